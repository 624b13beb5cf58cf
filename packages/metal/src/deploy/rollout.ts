/**
 * The rolling deploy: take the local lock, plan, build every node's system (a build error
 * touches nothing), take the cluster's deploy Lease, then per batch a health check and per node
 * the steps of steps.ts. A node whose switch fails, cannot be confirmed or does not come back
 * Ready is rolled back and uncordoned (rollback.ts). The first failure stops the deploy: no later
 * batch is touched, the report says what happened and how to go on, and the progress file lets a
 * rerun resume where this one stopped.
 */
import { randomUUID } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { replaceFile } from "../state/durable-file.js";
import { flakeReference } from "../inventory/flake-reference.js";
import type { Host, Inventory } from "../inventory/types.js";
import { runLogged } from "../run-logged.js";
import {
  renderCommand,
  type CommandValues,
  type DeployCommands,
  type RebootMode,
} from "./command-templates.js";
import type { DrainFlags } from "./drain-policy.js";
import {
  ClusterUnhealthyError,
  CommandFailedError,
  DeployError,
  DeployLockedError,
} from "./errors.js";
import type { DeployEventListener, DeployFailure, DeployStep } from "./events.js";
import { checkHealth } from "./health.js";
import type { KubeAccess } from "./kube-access.js";
import { acquireDeployLease, deployIdentity, type HeldLease, type LeaseSettings } from "./lease.js";
import { lockDeploy } from "./local-lock.js";
import { formatFailureReport } from "./output.js";
import { planDeploy, type DeployPlan } from "./plan.js";
import { completedHosts, loadProgress, newProgress, unfinishedHosts } from "./progress-store.js";
import { EventRecorder, ProgressRecorder } from "./recorders.js";
import { rollBack } from "./rollback.js";
import {
  NODE_STEPS,
  rollbackUnit,
  untouchedRecovery,
  type DeployTiming,
  type NodeRun,
  type RecoveryView,
} from "./steps.js";

export { DEFAULT_DEPLOY_TIMING, type DeployTiming } from "./steps.js";

/**
 * Failures that leave a switched node in doubt. A node that failed to uncordon runs a system
 * that came back Ready: it is kept.
 */
const ROLLED_BACK_AFTER: ReadonlySet<DeployStep> = new Set(["activate", "confirm", "wait-ready"]);

/** Output lines of a failed command quoted in its error; the log file has them all. */
const TAIL_IN_ERROR = 3;
const MS_PER_SECOND = 1000;

export interface DeployOptions {
  readonly inventory: Inventory;
  /** Host names; empty means all. */
  readonly only: readonly string[];
  readonly parallel: number;
  readonly reboot: RebootMode;
  readonly dryRun: boolean;
  /** Holds deploy.json, deploy-history.jsonl, deploy-report.txt and logs/deploy/HOST.log. */
  readonly stateDir: string;
  readonly commands: DeployCommands;
  /** Expanded for `{ssh_options}` and passed to nixos-rebuild as NIX_SSHOPTS. */
  readonly sshOptions: readonly string[];
  /** Opened only when the deploy really runs; a dry run never touches the cluster. */
  readonly openAccess: () => KubeAccess;
  readonly timing: DeployTiming;
  /** `kubectl drain` flags: what the drain may evict beyond what kubectl evicts by default. */
  readonly drainFlags: DrainFlags;
  /** The cluster-wide deploy Lease; tests shorten it. */
  readonly lease?: LeaseSettings;
  readonly onEvent: DeployEventListener;
}

export interface DeployOutcome {
  readonly ok: boolean;
  readonly deployId: string;
  readonly deployed: readonly string[];
  readonly failures: readonly DeployFailure[];
}

export function deployPaths(stateDir: string) {
  return {
    progress: join(stateDir, "deploy.json"),
    history: join(stateDir, "deploy-history.jsonl"),
    report: join(stateDir, "deploy-report.txt"),
    log: (host: string) => join(stateDir, "logs", "deploy", `${host}.log`),
  };
}

export async function runDeploy(options: DeployOptions): Promise<DeployOutcome> {
  if (options.dryRun) return describePlan(options);
  // Unknown hosts and bad flags are refused before anything is written.
  await planFromProgress(options);
  await mkdir(options.stateDir, { recursive: true });
  const lock = await lockDeploy(options.stateDir);
  try {
    return await deployLocked(options);
  } finally {
    await lock.release();
  }
}

async function deployLocked(options: DeployOptions): Promise<DeployOutcome> {
  const paths = deployPaths(options.stateDir);
  const { plan, resumed, deployId } = await planFromProgress(options);
  const record = new EventRecorder(deployId, paths.history, options.onEvent);
  await record.emit({ type: "deploy.plan", ...planSummary(plan), dryRun: false });
  const progress = new ProgressRecorder(
    paths.progress,
    resumed ?? newProgress(deployId, Date.now()),
  );
  const context: DeployContext = {
    options,
    record,
    progress,
    resuming: resumed ? unfinishedHosts(resumed) : new Set<string>(),
    access: undefined,
    lease: undefined,
    toplevels: new Map(),
  };
  for (const name of context.resuming) {
    await record.emit({
      type: "deploy.warning",
      host: name,
      message: `resuming: a previous run left ${name} at step ${resumed?.hosts[name]?.step ?? "?"}`,
    });
  }

  const stop = async (failures: DeployFailure[], deployed: string[]) => {
    await replaceFile(paths.report, formatFailureReport(deployId, failures));
    await record.emit({ type: "deploy.finished", ok: false, deployed });
    return { ok: false, deployId, deployed, failures };
  };

  // Every system is built before the first node is touched: an evaluation or build error
  // drains nothing.
  const buildFailures = await buildAll(plan, context);
  if (buildFailures.length > 0) return stop(buildFailures, []);

  const access = options.openAccess();
  context.access = access;
  const deployed: string[] = [];
  try {
    // Another deploy holding the Lease is thrown (exit 2: nothing changed); an API that does not
    // answer is this deploy's failure like any other step's.
    const leaseFailure = await takeLease(plan, context, access);
    if (leaseFailure) return await stop([leaseFailure], deployed);
    for (const batch of plan.batches) {
      const failures = await deployBatch(batch, context);
      deployed.push(
        ...batch.filter((host) => !failures.some((f) => f.host === host.name)).map((h) => h.name),
      );
      if (failures.length > 0) return await stop(failures, deployed);
    }
  } finally {
    // A lease that cannot be released expires LEASE_DURATION_SECONDS after its last renewal.
    const api = context.lease ? await access.clusterApi([]).catch(() => undefined) : undefined;
    if (api) await context.lease?.release(api);
    await access.close();
  }
  await progress.finish();
  await rm(paths.report, { force: true });
  await record.emit({ type: "deploy.finished", ok: true, deployed });
  return { ok: true, deployId, deployed, failures: [] };
}

interface DeployContext {
  readonly options: DeployOptions;
  readonly record: EventRecorder;
  readonly progress: ProgressRecorder;
  readonly resuming: ReadonlySet<string>;
  access: KubeAccess | undefined;
  lease: HeldLease | undefined;
  readonly toplevels: Map<string, string>;
}

async function planFromProgress(options: DeployOptions) {
  const previous = await loadProgress(deployPaths(options.stateDir).progress);
  const resumed =
    previous !== undefined && previous.finishedAt === undefined ? previous : undefined;
  const plan = planDeploy(options.inventory, {
    only: options.only,
    parallel: options.parallel,
    completed: resumed ? completedHosts(resumed) : new Set(),
  });
  return { plan, resumed, deployId: resumed?.deployId ?? randomUUID() };
}

function planSummary(plan: DeployPlan) {
  return {
    batches: plan.batches.map((batch) => batch.map((host) => host.name)),
    skipped: plan.skipped,
  };
}

async function buildAll(plan: DeployPlan, context: DeployContext): Promise<DeployFailure[]> {
  const { options } = context;
  for (const host of plan.batches.flat()) {
    const logFile = deployPaths(options.stateDir).log(host.name);
    try {
      await stepEvents(
        context,
        [host.name],
        "build",
        commandLine(options.commands.build, host, options),
        async () => {
          const result = await runTemplate(context, host, options.commands.build, {});
          const lines = result.stdout.trim().split("\n");
          const toplevel = lines[lines.length - 1]?.trim() ?? "";
          if (!toplevel) {
            throw new DeployError(`the build command printed no store path (see ${logFile})`);
          }
          context.toplevels.set(host.name, toplevel);
          return toplevel;
        },
      );
    } catch (error) {
      return [
        await fail(host, "build", error, context, (view) =>
          untouchedRecovery(host, view.rerun, `no node was touched: fix the build (${view.log})`),
        ),
      ];
    }
  }
  return [];
}

async function takeLease(
  plan: DeployPlan,
  context: DeployContext,
  access: KubeAccess,
): Promise<DeployFailure | undefined> {
  const first = plan.batches[0]?.[0];
  if (!first) return undefined;
  const names = plan.batches.flat().map((host) => host.name);
  try {
    const api = await access.clusterApi(names);
    context.lease = await acquireDeployLease(
      api,
      deployIdentity(context.record.deployId),
      context.options.lease,
    );
    context.lease.startRenewing(() => access.clusterApi([]));
    return undefined;
  } catch (error) {
    if (error instanceof DeployLockedError) throw error;
    return fail(first, "health", error, context, (view) =>
      untouchedRecovery(first, view.rerun, "no node was touched: is the Kubernetes API reachable?"),
    );
  }
}

async function deployBatch(
  batch: readonly Host[],
  context: DeployContext,
): Promise<DeployFailure[]> {
  const names = batch.map((host) => host.name);
  try {
    // Not recorded as a progress step: the check changes nothing, and a node a previous run
    // left mid-deploy must keep its step so the next run still knows to resume it.
    await stepEvents(context, names, "health", healthDetail(batch), async () => {
      const api = await (context.access as KubeAccess).clusterApi(names);
      await context.lease?.ensureHeld(api);
      const verdict = checkHealth(await api.listNodes(), batch, context.resuming);
      for (const message of verdict.warnings) {
        await context.record.emit({ type: "deploy.warning", host: undefined, message });
      }
      if (verdict.problems.length > 0) {
        throw new ClusterUnhealthyError(
          `the cluster is not healthy enough to take ${names.join(", ")} down: ${verdict.problems.join("; ")}`,
        );
      }
      return "healthy";
    });
  } catch (error) {
    return Promise.all(
      batch.map((host) =>
        fail(host, "health", error, context, (view) =>
          untouchedRecovery(host, view.rerun, "make every node Ready"),
        ),
      ),
    );
  }
  const results = await Promise.all(batch.map((host) => deployNode(host, context)));
  return results.filter((failure): failure is DeployFailure => failure !== undefined);
}

async function deployNode(host: Host, context: DeployContext): Promise<DeployFailure | undefined> {
  const node = nodeRun(host, context);
  let current: DeployStep = "cordon";
  let spec = NODE_STEPS[0];
  try {
    for (spec of NODE_STEPS) {
      if (!spec.applies(node)) continue;
      current = spec.step;
      // A deploy that lost its Lease must not touch another node, nor take another step.
      await context.lease?.ensureHeld(await node.api());
      await context.progress.step(host.name, spec.step);
      const detail = spec.plan(planView(host, context.options));
      const run = spec.run;
      await stepEvents(context, [host.name], spec.step, detail, () => run(node));
    }
    await context.progress.done(host.name);
    await context.record.emit({ type: "deploy.host.done", host: host.name });
    return undefined;
  } catch (error) {
    const rolledBack = ROLLED_BACK_AFTER.has(current)
      ? await rollBackIfSwitched(node, context)
      : undefined;
    const recover = spec?.recovery ?? (() => []);
    return fail(host, current, error, context, (view) =>
      recover({
        ...view,
        rolledBack,
        rollbackLine: rollbackLine(node, context.options),
      }),
    );
  }
}

/** After a switch or a reboot activation, the node goes back to its previous generation. */
async function rollBackIfSwitched(
  node: NodeRun,
  context: DeployContext,
): Promise<string | undefined> {
  if (node.state.previousGeneration === undefined) return undefined;
  try {
    let how = "";
    await stepEvents(
      context,
      [node.host.name],
      "rollback",
      `to generation ${node.state.previousGeneration}: ${commandLine(node.state.rebooting ? node.commands.rollbackBoot : node.commands.rollback, node.host, context.options, { generation: node.state.previousGeneration })}`,
      async () => {
        how = await rollBack(node);
        return `${how}; Ready and uncordoned`;
      },
    );
    return how;
  } catch (error) {
    await context.record.emit({
      type: "deploy.warning",
      host: node.host.name,
      message: `rollback failed: ${error instanceof Error ? error.message : String(error)}`,
    });
    return undefined;
  }
}

function nodeRun(host: Host, context: DeployContext): NodeRun {
  const { options } = context;
  const values: CommandValues = {
    ...commandValuesFor(host, options.inventory),
    toplevel: context.toplevels.get(host.name),
    rollback_unit: rollbackUnit(context.record.deployId),
  };
  return {
    host,
    commands: options.commands,
    values,
    reboot: options.reboot,
    timing: options.timing,
    drainFlags: options.drainFlags,
    progress: context.progress,
    logFile: deployPaths(options.stateDir).log(host.name),
    toplevel: context.toplevels.get(host.name) ?? "",
    run: (template, extra = {}, allowFailure = false) =>
      runTemplate(context, host, template, { ...values, ...extra }, allowFailure),
    api: () => (context.access as KubeAccess).clusterApi([host.name]),
    state: {
      rebooting: false,
      bootIdBefore: undefined,
      previousGeneration: undefined,
      armedAt: undefined,
    },
  };
}

async function runTemplate(
  context: DeployContext,
  host: Host,
  template: readonly string[],
  extra: Partial<CommandValues>,
  allowFailure = false,
) {
  const { options } = context;
  const logFile = deployPaths(options.stateDir).log(host.name);
  const argv = renderCommand(
    template,
    { ...commandValuesFor(host, options.inventory), ...extra },
    options.sshOptions,
  );
  const result = await runLogged({
    argv,
    logFile,
    header: `deploy ${context.record.deployId}`,
    env: { NIX_SSHOPTS: options.sshOptions.join(" ") },
  });
  if (result.exitCode !== 0 && !allowFailure) {
    const lastOutput = result.tail.slice(-TAIL_IN_ERROR).join(" | ");
    throw new CommandFailedError(argv, result.exitCode, logFile, lastOutput);
  }
  return result;
}

async function fail(
  host: Host,
  step: DeployStep,
  error: unknown,
  context: DeployContext,
  recovery: (view: RecoveryView) => string[],
): Promise<DeployFailure> {
  const message = error instanceof Error ? error.message : String(error);
  const lines = recovery(recoveryView(host, context.options, undefined));
  await context.progress.failed(host.name, message);
  await context.record.emit({
    type: "deploy.failed",
    host: host.name,
    step,
    error: message,
    recovery: lines,
  });
  return { host: host.name, step, error: message, recovery: lines };
}

function recoveryView(
  host: Host,
  options: DeployOptions,
  rolledBack: string | undefined,
): RecoveryView {
  return {
    host,
    rerun: `rerun \`metal deploy\` (same flags) to resume: finished nodes are skipped, ${host.name} starts again at its health check`,
    giveUp: `or give up on ${host.name} for now: \`kubectl uncordon ${host.name}\``,
    log: `command output: ${deployPaths(options.stateDir).log(host.name)}`,
    rollbackLine: commandLine(options.commands.rollback, host, options, {
      generation: "<previous generation, see the log>",
    }),
    rolledBack,
  };
}

/** The rollback a user can run by hand, with the generation this node ran before. */
function rollbackLine(node: NodeRun, options: DeployOptions): string {
  const values = {
    generation: node.state.previousGeneration ?? "<previous generation, see the log>",
  };
  if (!node.state.rebooting)
    return commandLine(options.commands.rollback, node.host, options, values);
  return (
    `${commandLine(options.commands.rollbackBoot, node.host, options, values)} && ` +
    commandLine(options.commands.reboot, node.host, options)
  );
}

function planView(host: Host, options: DeployOptions) {
  return {
    host,
    commands: options.commands,
    reboot: options.reboot,
    confirmSeconds: Math.ceil(options.timing.confirmTimeoutMs / MS_PER_SECOND),
    line: (template: readonly string[], extra: Partial<CommandValues> = {}) =>
      commandLine(template, host, options, extra),
  };
}

async function describePlan(options: DeployOptions): Promise<DeployOutcome> {
  const { plan, deployId } = await planFromProgress(options);
  const record = new EventRecorder(deployId, undefined, options.onEvent);
  await record.emit({ type: "deploy.plan", ...planSummary(plan), dryRun: true });
  const planned = (host: Host, step: DeployStep, detail: string) =>
    record.emit({ type: "deploy.step", host: host.name, step, status: "planned", detail });
  for (const host of plan.batches.flat()) {
    await planned(host, "build", commandLine(options.commands.build, host, options));
  }
  for (const batch of plan.batches) {
    for (const host of batch) {
      await planned(host, "health", `GET /api/v1/nodes: ${healthDetail([host])}`);
      for (const spec of NODE_STEPS) {
        if (spec.step === "reboot" || spec.step === "confirm") continue;
        await planned(host, spec.step, spec.plan(planView(host, options)));
      }
    }
  }
  return { ok: true, deployId, deployed: [], failures: [] };
}

function healthDetail(batch: readonly Host[]): string {
  const servers = batch.some((host) => host.role === "server");
  return `every node Ready${servers ? ", etcd keeps a majority without it" : ""}`;
}

function commandValuesFor(host: Host, inventory: Inventory): CommandValues {
  return {
    flake: flakeReference(inventory),
    host: host.name,
    address: host.address,
  };
}

function commandLine(
  template: readonly string[],
  host: Host,
  options: DeployOptions,
  extra: Partial<CommandValues> = {},
): string {
  return renderCommand(
    template,
    {
      toplevel: "<built system>",
      generation: "<N>",
      rollback_unit: "metal-rollback-<deploy>",
      confirm_seconds: String(Math.ceil(options.timing.confirmTimeoutMs / MS_PER_SECOND)),
      ...commandValuesFor(host, options.inventory),
      ...extra,
    },
    options.sshOptions,
  ).join(" ");
}

async function stepEvents(
  context: DeployContext,
  hosts: readonly string[],
  step: DeployStep,
  detail: string,
  work: () => Promise<string>,
): Promise<void> {
  for (const host of hosts) {
    await context.record.emit({ type: "deploy.step", host, step, status: "start", detail });
  }
  const result = await work();
  for (const host of hosts) {
    await context.record.emit({ type: "deploy.step", host, step, status: "done", detail: result });
  }
}
