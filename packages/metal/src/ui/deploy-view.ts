/**
 * `metal deploy` on the dashboard: its plan (batches in order) and each node's steps. The event
 * type is the part of deploy's own event union (deploy/events.ts) the dashboard reads, written
 * structurally so deploy's events are accepted as they are.
 */

export type DashboardDeployEvent =
  | {
      readonly type: "deploy.plan";
      readonly time: number;
      readonly deployId: string;
      readonly batches: readonly (readonly string[])[];
      readonly skipped: readonly string[];
      readonly dryRun: boolean;
    }
  | {
      readonly type: "deploy.step";
      readonly time: number;
      readonly host: string;
      readonly step: string;
      readonly status: "planned" | "start" | "done";
      readonly detail: string;
    }
  | {
      readonly type: "deploy.warning";
      readonly time: number;
      readonly host: string | undefined;
      readonly message: string;
    }
  | { readonly type: "deploy.host.done"; readonly time: number; readonly host: string }
  | {
      readonly type: "deploy.failed";
      readonly time: number;
      readonly host: string;
      readonly step: string;
      readonly error: string;
      readonly recovery: readonly string[];
    }
  | {
      readonly type: "deploy.finished";
      readonly time: number;
      readonly ok: boolean;
      readonly deployed: readonly string[];
    };

export type DeployNodeStatus = "waiting" | "skipped" | "running" | "done" | "failed";

export interface DeployNodeView {
  readonly host: string;
  readonly batch: number;
  status: DeployNodeStatus;
  step: string | undefined;
  detail: string;
  error: string | undefined;
  recovery: readonly string[];
}

export interface DeployView {
  readonly deployId: string;
  readonly dryRun: boolean;
  readonly nodes: DeployNodeView[];
  warnings: string[];
  finished: { ok: boolean } | undefined;
}

const MAX_WARNINGS = 20;

/** Applies one event; returns the view to show (a new one when a plan starts a deploy). */
export function applyDeployEvent(
  view: DeployView | undefined,
  event: DashboardDeployEvent,
): DeployView | undefined {
  if (event.type === "deploy.plan") {
    const nodes = event.batches.flatMap((batch, index) =>
      batch.map((host): DeployNodeView => ({
        host,
        batch: index + 1,
        status: "waiting",
        step: undefined,
        detail: "",
        error: undefined,
        recovery: [],
      })),
    );
    for (const host of event.skipped)
      nodes.push({
        host,
        batch: 0,
        status: "skipped",
        step: undefined,
        detail: "deployed by an earlier run",
        error: undefined,
        recovery: [],
      });
    return {
      deployId: event.deployId,
      dryRun: event.dryRun,
      nodes,
      warnings: [],
      finished: undefined,
    };
  }
  if (!view) return view;
  const node = (host: string) => view.nodes.find((candidate) => candidate.host === host);
  switch (event.type) {
    case "deploy.step": {
      const target = node(event.host);
      if (!target) break;
      if (event.status !== "planned") target.status = "running";
      target.step = event.step;
      target.detail = event.detail;
      break;
    }
    case "deploy.warning":
      view.warnings = [
        ...view.warnings,
        `${event.host ? `${event.host}: ` : ""}${event.message}`,
      ].slice(-MAX_WARNINGS);
      break;
    case "deploy.host.done": {
      const target = node(event.host);
      if (target) target.status = "done";
      break;
    }
    case "deploy.failed": {
      const target = node(event.host);
      if (!target) break;
      target.status = "failed";
      target.step = event.step;
      target.error = event.error;
      target.recovery = event.recovery;
      break;
    }
    case "deploy.finished":
      view.finished = { ok: event.ok };
      break;
  }
  return view;
}
