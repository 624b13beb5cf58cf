/**
 * What a deploy reports while it runs. One small union so the terminal view, `--json` output,
 * the history file and (later) the dashboard all read the same records.
 */

/**
 * The steps of a deploy, in order: every node's system is built before any node is touched,
 * then per batch a health check and per node the rest. `rollback` runs only after a failure
 * once the node's system was switched (ADR 0211).
 */
export const DEPLOY_STEPS = [
  "build",
  "health",
  "cordon",
  "drain",
  "activate",
  "reboot",
  "confirm",
  "wait-ready",
  "rollback",
  "uncordon",
] as const;
export type DeployStep = (typeof DEPLOY_STEPS)[number];

/** Where a deploy stopped for one host, and what the operator can do about it. */
export interface DeployFailure {
  readonly host: string;
  readonly step: DeployStep;
  readonly error: string;
  readonly recovery: readonly string[];
}

interface Base {
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** Identifies one deploy across resumes: a rerun that resumes keeps the id. */
  readonly deployId: string;
}

export interface DeployPlanEvent extends Base {
  readonly type: "deploy.plan";
  /** Batches in order; each batch runs at once, the next starts only when it succeeded. */
  readonly batches: readonly (readonly string[])[];
  /** Nodes a previous run of this deploy already finished. */
  readonly skipped: readonly string[];
  readonly dryRun: boolean;
}

export interface DeployStepEvent extends Base {
  readonly type: "deploy.step";
  readonly host: string;
  readonly step: DeployStep;
  /** "planned" only in a dry run. */
  readonly status: "planned" | "start" | "done";
  /** What the step did or would do, e.g. the command line or the pods it evicted. */
  readonly detail: string;
}

export interface DeployWarningEvent extends Base {
  readonly type: "deploy.warning";
  readonly host: string | undefined;
  readonly message: string;
}

export interface DeployHostDoneEvent extends Base {
  readonly type: "deploy.host.done";
  readonly host: string;
}

export interface DeployFailedEvent extends Base {
  readonly type: "deploy.failed";
  readonly host: string;
  readonly step: DeployStep;
  readonly error: string;
  /** What to do next, one instruction a line. */
  readonly recovery: readonly string[];
}

export interface DeployFinishedEvent extends Base {
  readonly type: "deploy.finished";
  readonly ok: boolean;
  readonly deployed: readonly string[];
}

export type DeployEvent =
  | DeployPlanEvent
  | DeployStepEvent
  | DeployWarningEvent
  | DeployHostDoneEvent
  | DeployFailedEvent
  | DeployFinishedEvent;

/** Distributive Omit, so each member of the union keeps its own fields. */
type WithoutStamp<E> = E extends DeployEvent ? Omit<E, "time" | "deployId"> : never;
export type DeployEventInput = WithoutStamp<DeployEvent>;

export type DeployEventListener = (event: DeployEvent) => void;
