/**
 * A node's deploy steps, written once: each entry says whether it applies, what it runs, what a
 * dry run prints for it, and what the user can do when it fails. The orchestrator (rollout.ts)
 * walks this table; the dry run and the failure report read the same entries.
 */
import type { Host } from "../inventory/types.js";
import type { ClusterApi } from "./cluster-api.js";
import {
  needsReboot,
  parseBootFiles,
  parseGeneration,
  renderCommand,
  type CommandValues,
  type DeployCommands,
  type RebootMode,
} from "./command-templates.js";
import { drainNode } from "./drain.js";
import type { DrainFlags } from "./drain-policy.js";
import { CommandFailedError, DeployError, NodeNotReadyError } from "./errors.js";
import type { DeployStep } from "./events.js";
import type { LoggedRun } from "../run-logged.js";
import type { ProgressRecorder } from "./recorders.js";
import { setTimeout as sleep } from "node:timers/promises";

export interface DeployTiming {
  readonly drainTimeoutMs: number;
  readonly readyTimeoutMs: number;
  /**
   * The node's rollback watchdog fires this long after it was armed (right before the switch)
   * unless metal confirms: the switch and a fresh SSH connection must fit in it.
   */
  readonly confirmTimeoutMs: number;
  readonly pollMs: number;
}

export const DEFAULT_DEPLOY_TIMING: DeployTiming = {
  drainTimeoutMs: 10 * 60_000,
  readyTimeoutMs: 15 * 60_000,
  confirmTimeoutMs: 10 * 60_000,
  pollMs: 5_000,
};

const MS_PER_SECOND = 1000;

/** What the steps of one node share: its commands, the API, and what earlier steps learned. */
export interface NodeRun {
  readonly host: Host;
  readonly commands: DeployCommands;
  readonly values: CommandValues;
  readonly reboot: RebootMode;
  readonly timing: DeployTiming;
  readonly drainFlags: DrainFlags;
  readonly progress: ProgressRecorder;
  readonly logFile: string;
  /** The built system (the deploy builds every node's before touching any). */
  readonly toplevel: string;
  /** Runs a template with this node's values; throws CommandFailedError unless `allowFailure`. */
  run(
    template: readonly string[],
    extra?: Partial<CommandValues>,
    allowFailure?: boolean,
  ): Promise<LoggedRun>;
  /** An API client that avoids this node when another way exists. */
  api(): Promise<ClusterApi>;
  /** Learned along the way. */
  state: {
    rebooting: boolean;
    bootIdBefore: string | undefined;
    /** The generation the node ran before the switch; its watchdog rolls back to it. */
    previousGeneration: string | undefined;
    /** When the watchdog was armed (ms since the epoch); undefined when none runs. */
    armedAt: number | undefined;
  };
}

/** The transient systemd unit of this deploy's watchdog on every node. */
export function rollbackUnit(deployId: string): string {
  return `metal-rollback-${deployId.slice(0, 8)}`;
}

export interface StepSpec {
  readonly step: DeployStep;
  readonly applies: (node: NodeRun) => boolean;
  /** What `--dry-run` prints for this node. */
  readonly plan: (node: PlanView) => string;
  readonly run: (node: NodeRun) => Promise<string>;
  /**
   * What the user can do when this step failed. `rolledBack` says whether metal already put the
   * node back on its previous generation and uncordoned it.
   */
  readonly recovery: (node: RecoveryView) => string[];
}

/** What the dry run knows about a node: no API, no SSH, the built system not yet known. */
export interface PlanView {
  readonly host: Host;
  readonly line: (template: readonly string[], extra?: Partial<CommandValues>) => string;
  readonly commands: DeployCommands;
  readonly reboot: RebootMode;
  readonly confirmSeconds: number;
}

export interface RecoveryView {
  readonly host: Host;
  readonly rerun: string;
  readonly giveUp: string;
  readonly log: string;
  readonly rollbackLine: string;
  readonly rolledBack: string | undefined;
}

const KUBECTL_FLAGS_HELP = "--force / --delete-emptydir-data (same meaning as for kubectl drain)";

export const NODE_STEPS: readonly StepSpec[] = [
  {
    step: "cordon",
    applies: () => true,
    plan: ({ host }) => `PATCH /api/v1/nodes/${host.name} spec.unschedulable=true`,
    run: async (node) => {
      const current = await (await node.api()).getNode(node.host.name);
      const known = node.progress.host(node.host.name)?.wasUnschedulable;
      // A node cordoned before this deploy (by us in an earlier run, or by its admin) keeps
      // what was recorded first.
      await node.progress.update(node.host.name, {
        wasUnschedulable: known ?? current.unschedulable,
      });
      await (await node.api()).setUnschedulable(node.host.name, true);
      return current.unschedulable ? "was already cordoned" : "cordoned";
    },
    recovery: cordonedUnchanged,
  },
  {
    step: "drain",
    applies: () => true,
    plan: ({ host }) =>
      `POST policy/v1 Eviction for each pod on ${host.name} but DaemonSet and mirror pods; ` +
      `refuse pods with emptyDir data or without a controller unless ${KUBECTL_FLAGS_HELP}`,
    run: async (node) => {
      const result = await drainNode(
        await node.api(),
        node.host.name,
        { timeoutMs: node.timing.drainTimeoutMs, pollMs: node.timing.pollMs },
        node.drainFlags,
      );
      return `evicted ${podList(result.evicted)}; left ${podList(result.skipped)} (DaemonSet, mirror)`;
    },
    recovery: cordonedUnchanged,
  },
  {
    step: "activate",
    applies: () => true,
    plan: ({ line, commands, reboot, confirmSeconds }) => {
      const watchdog =
        `${line(commands.currentGeneration)}; ${line(commands.armRollback, { generation: "<N>", confirm_seconds: String(confirmSeconds) })}; ` +
        line(commands.switch);
      const rebootLine = `${line(commands.boot)} && ${line(commands.reboot)}`;
      return {
        never: watchdog,
        always: rebootLine,
        auto:
          `${watchdog}; or, when \`${line(commands.currentBoot)}\` and \`${line(commands.newBoot)}\` ` +
          `differ: ${rebootLine}`,
      }[reboot];
    },
    run: async (node) => {
      const generation = parseGeneration((await node.run(node.commands.currentGeneration)).stdout);
      if (!generation) {
        throw new DeployError(
          `cannot tell which generation ${node.host.name} runs: \`readlink ` +
            `/nix/var/nix/profiles/system\` did not print system-N-link (see ${node.logFile}); ` +
            `nothing was switched`,
        );
      }
      node.state.previousGeneration = generation;
      node.state.rebooting = await decideReboot(node);
      if (node.state.rebooting) {
        node.state.bootIdBefore = (await (await node.api()).getNode(node.host.name)).bootId;
        await node.run(node.commands.boot);
        return `${node.toplevel} is the boot default (kernel or initrd changed; --reboot ${node.reboot})`;
      }
      await node.run(node.commands.armRollback, {
        generation,
        confirm_seconds: String(Math.ceil(node.timing.confirmTimeoutMs / MS_PER_SECOND)),
      });
      node.state.armedAt = Date.now();
      await node.run(node.commands.switch);
      return `switched to ${node.toplevel}; watchdog rolls back to generation ${generation} unless confirmed`;
    },
    recovery: mayRunNewSystem,
  },
  {
    step: "reboot",
    applies: (node) => node.state.rebooting,
    plan: ({ line, commands }) => line(commands.reboot),
    run: async (node) => {
      await node.run(node.commands.reboot);
      return "rebooting";
    },
    recovery: mayRunNewSystem,
  },
  {
    step: "confirm",
    applies: (node) => node.state.armedAt !== undefined,
    plan: ({ line, commands }) =>
      `a new SSH connection: ${line(commands.confirm)} (unconfirmed, the node rolls back by itself)`,
    run: confirmActivation,
    recovery: mayRunNewSystem,
  },
  {
    step: "wait-ready",
    applies: () => true,
    plan: ({ host, line, commands }) => `node ${host.name} Ready, then ${line(commands.k3sHealth)}`,
    run: (node) => waitReady(node, node.state.rebooting ? node.state.bootIdBefore : undefined),
    recovery: mayRunNewSystem,
  },
  {
    step: "uncordon",
    applies: () => true,
    plan: ({ host }) => `PATCH /api/v1/nodes/${host.name} spec.unschedulable=false`,
    run: uncordon,
    recovery: ({ host, rerun, log }) => [
      `${host.name} runs the new system but is still cordoned; ${rerun}`,
      log,
    ],
  },
];

/** What a failed build or health check leaves: nothing changed on any node. */
export function untouchedRecovery(host: Host, rerun: string, cause: string): string[] {
  return [`nothing was changed on ${host.name}; ${cause}, then ${rerun}`];
}

function cordonedUnchanged({ host, rerun, giveUp, log }: RecoveryView): string[] {
  return [
    `${host.name} is cordoned, its system unchanged`,
    `fix the cause above, then ${rerun}`,
    giveUp,
    log,
  ];
}

function mayRunNewSystem({ host, rerun, log, rollbackLine, rolledBack }: RecoveryView): string[] {
  if (rolledBack) {
    return [
      `${host.name} was rolled back (${rolledBack}) and uncordoned`,
      `fix the configuration, then ${rerun}`,
      log,
    ];
  }
  return [
    `${host.name} is cordoned and may run the new system`,
    `fix the cause above, then ${rerun}`,
    `or roll back: \`${rollbackLine}\` (or pick the previous generation in the boot menu), then \`kubectl uncordon ${host.name}\``,
    log,
  ];
}

export async function uncordon(node: NodeRun): Promise<string> {
  if (node.progress.host(node.host.name)?.wasUnschedulable)
    return "left cordoned: it was cordoned before the deploy";
  await (await node.api()).setUnschedulable(node.host.name, false);
  return "uncordoned";
}

async function decideReboot(node: NodeRun): Promise<boolean> {
  if (node.reboot !== "auto") return node.reboot === "always";
  const current = parseBootFiles((await node.run(node.commands.currentBoot)).stdout);
  const next = parseBootFiles((await node.run(node.commands.newBoot)).stdout);
  if (!current || !next) {
    throw new DeployError(
      `cannot tell whether ${node.host.name} needs a reboot: the kernel/initrd commands did not print ` +
        `two paths each (see ${node.logFile}); rerun with --reboot always or --reboot never`,
    );
  }
  return needsReboot("auto", current, next);
}

/**
 * Stops the watchdog over a new SSH connection, as deploy-rs confirms an activation by removing
 * its canary file from a fresh connection (src/bin/activate.rs, `activation_confirmation`): only
 * a node metal can still reach after the switch is kept. Retried until the watchdog would fire.
 */
async function confirmActivation(node: NodeRun): Promise<string> {
  const deadline = (node.state.armedAt ?? Date.now()) + node.timing.confirmTimeoutMs;
  let last: LoggedRun | undefined;
  for (;;) {
    last = await node.run(node.commands.confirm, {}, true);
    if (last.exitCode === 0) {
      node.state.armedAt = undefined;
      return "reached over a new SSH connection; watchdog stopped";
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(node.timing.pollMs, Math.max(0, deadline - Date.now())));
  }
  throw new CommandFailedError(
    renderCommand(node.commands.confirm, node.values, []),
    last.exitCode,
    node.logFile,
    `${node.host.name} could not be confirmed within ${node.timing.confirmTimeoutMs / MS_PER_SECOND} s of the switch ` +
      `(${last.tail.slice(-1).join("") || "no output"})`,
  );
}

export async function waitReady(node: NodeRun, bootIdBefore: string | undefined): Promise<string> {
  const { readyTimeoutMs, pollMs } = node.timing;
  const deadline = Date.now() + readyTimeoutMs;
  let lastSeen = "no answer yet";
  for (;;) {
    try {
      const status = await (await node.api()).getNode(node.host.name);
      const rebooted = bootIdBefore === undefined || status.bootId !== bootIdBefore;
      lastSeen = rebooted
        ? status.readiness
        : `${status.readiness}, not rebooted yet (same boot id)`;
      if (status.ready && rebooted) {
        const k3s = await node.run(node.commands.k3sHealth, {}, true);
        if (k3s.exitCode === 0) return `Ready (${status.readiness}), k3s active`;
        lastSeen = `${status.readiness}, but k3s is not active`;
      }
    } catch (error) {
      lastSeen = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline)
      throw new NodeNotReadyError(node.host.name, readyTimeoutMs, lastSeen);
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
  }
}

function podList(pods: readonly string[]): string {
  return `${pods.length} pod(s)${pods.length > 0 ? ` [${pods.join(", ")}]` : ""}`;
}
