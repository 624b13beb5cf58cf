/**
 * How deploy events read on a terminal, and the failure report. Pure: events in, text out.
 */
import type { DeployEvent, DeployFailure } from "./events.js";

const STEP_COLUMN = 10;
const HOST_COLUMN = 12;

/** One line per event, or none for events a person does not need to see. */
export function describeDeployEvent(event: DeployEvent): string | undefined {
  const time = new Date(event.time).toISOString().slice(11, 19);
  switch (event.type) {
    case "deploy.plan": {
      const order = event.batches.map((batch) => batch.join(" + ")).join(" → ") || "nothing to do";
      const skipped = event.skipped.length
        ? ` (already deployed: ${event.skipped.join(", ")})`
        : "";
      return `${time} ${event.dryRun ? "dry run, plan" : "plan"}: ${order}${skipped}`;
    }
    case "deploy.step": {
      const status = { planned: "would", start: "…", done: "✓" }[event.status];
      return `${time} ${event.host.padEnd(HOST_COLUMN)} ${event.step.padEnd(STEP_COLUMN)} ${status} ${event.detail}`;
    }
    case "deploy.warning":
      return `${time} ${event.host ? `${event.host}: ` : ""}warning: ${event.message}`;
    case "deploy.host.done":
      return `${time} ${event.host.padEnd(HOST_COLUMN)} deployed`;
    case "deploy.failed":
      return `${time} ${event.host.padEnd(HOST_COLUMN)} ${event.step.padEnd(STEP_COLUMN)} ✗ ${event.error}`;
    case "deploy.finished":
      return event.ok
        ? `${time} deploy finished: ${event.deployed.length} node(s) deployed`
        : `${time} deploy stopped`;
  }
}

/** The report a failed deploy prints and leaves in the state directory. */
export function formatFailureReport(deployId: string, failures: readonly DeployFailure[]): string {
  const sections = failures.map((failure) =>
    [
      `Node:  ${failure.host}`,
      `Step:  ${failure.step}`,
      `Error: ${failure.error}`,
      "What now:",
      ...failure.recovery.map((line) => `  - ${line}`),
    ].join("\n"),
  );
  return [
    `metal deploy ${deployId} stopped; no further node was touched.`,
    "",
    sections.join("\n\n"),
    "",
  ].join("\n");
}
