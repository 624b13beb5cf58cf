/**
 * The rolling deploy: plan, then per batch a health check and per node cordon → drain → build →
 * activate (switch, or boot + reboot) → wait Ready and k3s healthy → uncordon. The first failure
 * stops the deploy: no later batch is touched, the report says how to resume or roll back, and
 * the progress file lets a rerun resume where this one stopped.
 */
import { randomUUID } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { appendLine, replaceFile } from "../state/durable-file.js";
import type { Host, Inventory } from "../inventory/types.js";
import {
  flakeReference,
  needsReboot,
  parseBootFiles,
  renderCommand,
  type CommandValues,
  type DeployCommands,
  type RebootMode,
} from "./command-templates.js";
import { drainNode } from "./drain.js";
import {
  ClusterUnhealthyError,
  CommandFailedError,
  DeployError,
  NodeNotReadyError,
} from "./errors.js";
import type { DeployEvent, DeployEventInput, DeployEventListener, DeployStep } from "./events.js";
import { checkHealth } from "./health.js";
import type { KubeAccess } from "./kube-access.js";
import { formatFailureReport } from "./output.js";
import { planDeploy, type DeployPlan } from "./plan.js";
import {
  completedHosts,
  loadProgress,
  newProgress,
  saveProgress,
  unfinishedHosts,
  type DeployProgress,
  type HostProgress,
} from "./progress-store.js";
import { runLogged } from "../install/run-logged.js";

export interface DeployTiming {
  readonly drainTimeoutMs: number;
  readonly readyTimeoutMs: number;
  readonly pollMs: number;
}

/** Output lines of a failed command quoted in its error; the log file has them all. */
const TAIL_IN_ERROR = 3;

export const DEFAULT_DEPLOY_TIMING: DeployTiming = {
  drainTimeoutMs: 10 * 60_000,
  readyTimeoutMs: 15 * 60_000,
  pollMs: 5_000,
};

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
  readonly onEvent: DeployEventListener;
}

export interface DeployFailure {
  readonly host: string;
  readonly step: DeployStep;
  readonly error: string;
  readonly recovery: readonly string[];
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
  const paths = deployPaths(options.stateDir);
  const previous = await loadProgress(paths.progress);
  const resumed =
    previous !== undefined && previous.finishedAt === undefined ? previous : undefined;
  const deployId = resumed?.deployId ?? randomUUID();
  const plan = planDeploy(options.inventory, {
    only: options.only,
    parallel: options.parallel,
    completed: resumed ? completedHosts(resumed) : new Set(),
  });

  if (!options.dryRun) await mkdir(options.stateDir, { recursive: true });
  const record = new EventRecorder(
    deployId,
    options.dryRun ? undefined : paths.history,
    options.onEvent,
  );
  await record.emit({
    type: "deploy.plan",
    batches: plan.batches.map((batch) => batch.map((host) => host.name)),
    skipped: plan.skipped,
    dryRun: options.dryRun,
  });
  if (options.dryRun) {
    await describePlan(plan, options, record);
    return { ok: true, deployId, deployed: [], failures: [] };
  }

  const progress = new ProgressRecorder(
    paths.progress,
    resumed ?? newProgress(deployId, Date.now()),
  );
  const resuming = resumed ? unfinishedHosts(resumed) : new Set<string>();
  for (const name of resuming) {
    await record.emit({
      type: "deploy.warning",
      host: name,
      message: `resuming: a previous run left ${name} at step ${resumed?.hosts[name]?.step ?? "?"}`,
    });
  }

  const access = options.openAccess();
  const deployed: string[] = [];
  try {
    for (const batch of plan.batches) {
      const failures = await deployBatch(batch, { options, access, progress, record, resuming });
      deployed.push(
        ...batch.filter((host) => !failures.some((f) => f.host === host.name)).map((h) => h.name),
      );
      if (failures.length > 0) {
        await replaceFile(paths.report, formatFailureReport(deployId, failures));
        await record.emit({ type: "deploy.finished", ok: false, deployed });
        return { ok: false, deployId, deployed, failures };
      }
    }
  } finally {
    await access.close();
  }
  await progress.finish();
  await rm(paths.report, { force: true });
  await record.emit({ type: "deploy.finished", ok: true, deployed });
  return { ok: true, deployId, deployed, failures: [] };
}

interface DeployContext {
  readonly options: DeployOptions;
  readonly access: KubeAccess;
  readonly progress: ProgressRecorder;
  readonly record: EventRecorder;
  readonly resuming: ReadonlySet<string>;
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
      const api = await context.access.clusterApi(names);
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
    return Promise.all(batch.map((host) => fail(host, "health", error, context)));
  }
  const results = await Promise.all(batch.map((host) => deployNode(host, context)));
  return results.filter((failure): failure is DeployFailure => failure !== undefined);
}

async function deployNode(host: Host, context: DeployContext): Promise<DeployFailure | undefined> {
  const { options, progress } = context;
  const logFile = deployPaths(options.stateDir).log(host.name);
  const values = commandValuesFor(host, options.inventory);
  const env = { NIX_SSHOPTS: options.sshOptions.join(" ") };
  const run = async (
    template: readonly string[],
    extra: Partial<CommandValues> = {},
    allowFailure = false,
  ) => {
    const argv = renderCommand(template, { ...values, ...extra }, options.sshOptions);
    const header = `deploy ${context.record.deployId}`;
    const result = await runLogged({ argv, logFile, header, env });
    if (result.exitCode !== 0 && !allowFailure) {
      const lastOutput = result.tail.slice(-TAIL_IN_ERROR).join(" | ");
      throw new CommandFailedError(argv, result.exitCode, logFile, lastOutput);
    }
    return result;
  };
  const api = () => context.access.clusterApi([host.name]);
  let current: DeployStep = "cordon";
  const step = async (name: DeployStep, detail: string, work: () => Promise<string>) => {
    current = name;
    await progress.step(host.name, name);
    await stepEvents(context, [host.name], name, detail, work);
  };

  try {
    await step("cordon", "spec.unschedulable = true", async () => {
      const node = await (await api()).getNode(host.name);
      const known = progress.host(host.name)?.wasUnschedulable;
      // A node cordoned before this deploy (by us in an earlier run, or by its admin) keeps
      // what was recorded first.
      await progress.update(host.name, { wasUnschedulable: known ?? node.unschedulable });
      await (await api()).setUnschedulable(host.name, true);
      return node.unschedulable ? "was already cordoned" : "cordoned";
    });
    await step("drain", "evict every pod but DaemonSet and mirror pods", async () => {
      const result = await drainNode(await api(), host.name, {
        timeoutMs: options.timing.drainTimeoutMs,
        pollMs: options.timing.pollMs,
      });
      return `evicted ${podList(result.evicted)}; left ${podList(result.skipped)} (DaemonSet, mirror)`;
    });
    let toplevel = "";
    let reboot = false;
    await step("build", commandLine(options.commands.build, values, options), async () => {
      const lines = (await run(options.commands.build)).stdout.trim().split("\n");
      toplevel = lines[lines.length - 1]?.trim() ?? "";
      if (!toplevel) {
        throw new DeployError(`the build command printed no store path (see ${logFile})`);
      }
      reboot = await decideReboot(options, run, toplevel, host, logFile);
      return `${toplevel}: ${reboot ? "boot it, then reboot" : "switch to it"} (--reboot ${options.reboot})`;
    });
    let bootIdBefore = "";
    if (reboot) {
      await step("activate", commandLine(options.commands.boot, values, options), async () => {
        bootIdBefore = (await (await api()).getNode(host.name)).bootId;
        await run(options.commands.boot, { toplevel });
        return "new system is the boot default";
      });
      await step("reboot", commandLine(options.commands.reboot, values, options), async () => {
        await run(options.commands.reboot);
        return "rebooting";
      });
    } else {
      await step("activate", commandLine(options.commands.switch, values, options), async () => {
        await run(options.commands.switch, { toplevel });
        return "switched";
      });
    }
    await step("wait-ready", "node Ready and k3s active", () =>
      waitReady(host, context, reboot ? bootIdBefore : undefined, () =>
        run(options.commands.k3sHealth, {}, true).then((result) => result.exitCode === 0),
      ),
    );
    await step("uncordon", "spec.unschedulable = false", async () => {
      if (progress.host(host.name)?.wasUnschedulable)
        return "left cordoned: it was cordoned before the deploy";
      await (await api()).setUnschedulable(host.name, false);
      return "uncordoned";
    });
    await progress.done(host.name);
    await context.record.emit({ type: "deploy.host.done", host: host.name });
    return undefined;
  } catch (error) {
    return fail(host, current, error, context);
  }
}

async function decideReboot(
  options: DeployOptions,
  run: (template: readonly string[], extra?: Partial<CommandValues>) => Promise<{ stdout: string }>,
  toplevel: string,
  host: Host,
  logFile: string,
): Promise<boolean> {
  if (options.reboot !== "auto") return options.reboot === "always";
  const current = parseBootFiles((await run(options.commands.currentBoot)).stdout);
  const next = parseBootFiles((await run(options.commands.newBoot, { toplevel })).stdout);
  if (!current || !next) {
    throw new DeployError(
      `cannot tell whether ${host.name} needs a reboot: the kernel/initrd commands did not print ` +
        `two paths each (see ${logFile}); rerun with --reboot always or --reboot never`,
    );
  }
  return needsReboot("auto", current, next);
}

async function waitReady(
  host: Host,
  context: DeployContext,
  bootIdBefore: string | undefined,
  k3sActive: () => Promise<boolean>,
): Promise<string> {
  const { readyTimeoutMs, pollMs } = context.options.timing;
  const deadline = Date.now() + readyTimeoutMs;
  let lastSeen = "no answer yet";
  for (;;) {
    try {
      const node = await (await context.access.clusterApi([host.name])).getNode(host.name);
      const rebooted = bootIdBefore === undefined || node.bootId !== bootIdBefore;
      lastSeen = rebooted ? node.readiness : `${node.readiness}, not rebooted yet (same boot id)`;
      if (node.ready && rebooted) {
        if (await k3sActive()) return `Ready (${node.readiness}), k3s active`;
        lastSeen = `${node.readiness}, but k3s is not active`;
      }
    } catch (error) {
      lastSeen = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline) throw new NodeNotReadyError(host.name, readyTimeoutMs, lastSeen);
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
  }
}

async function fail(
  host: Host,
  step: DeployStep,
  error: unknown,
  context: DeployContext,
): Promise<DeployFailure> {
  const message = error instanceof Error ? error.message : String(error);
  const recovery = recoveryFor(host, step, context.options);
  await context.progress.failed(host.name, message);
  await context.record.emit({
    type: "deploy.failed",
    host: host.name,
    step,
    error: message,
    recovery,
  });
  return { host: host.name, step, error: message, recovery };
}

/** What the user can do after a failure at `step`; rerunning always resumes. */
export function recoveryFor(host: Host, step: DeployStep, options: DeployOptions): string[] {
  const rerun = `rerun \`metal deploy\` (same flags) to resume: finished nodes are skipped, ${host.name} starts again at its health check`;
  const giveUp = `or give up on ${host.name} for now: \`kubectl uncordon ${host.name}\``;
  const rollback = renderCommand(
    options.commands.rollback,
    commandValuesFor(host, options.inventory),
    options.sshOptions,
  ).join(" ");
  const log = `command output: ${deployPaths(options.stateDir).log(host.name)}`;
  switch (step) {
    case "health":
      return [`nothing was changed on ${host.name}; make every node Ready, then ${rerun}`];
    case "cordon":
    case "drain":
    case "build":
      return [
        `${host.name} is cordoned, its system unchanged`,
        `fix the cause above, then ${rerun}`,
        giveUp,
        log,
      ];
    case "activate":
    case "reboot":
    case "wait-ready":
      return [
        `${host.name} is cordoned and may run the new system`,
        `fix the cause above, then ${rerun}`,
        `or roll back: \`${rollback}\` (or pick the previous generation in the boot menu), then \`kubectl uncordon ${host.name}\``,
        log,
      ];
    case "uncordon":
      return [`${host.name} runs the new system but is still cordoned; ${rerun}`, log];
  }
}

async function describePlan(
  plan: DeployPlan,
  options: DeployOptions,
  record: EventRecorder,
): Promise<void> {
  for (const batch of plan.batches) {
    for (const host of batch) {
      const values = commandValuesFor(host, options.inventory);
      const line = (template: readonly string[]) => commandLine(template, values, options);
      const activation = {
        never: `${line(options.commands.switch)}`,
        always: `${line(options.commands.boot)} && ${line(options.commands.reboot)}`,
        auto:
          `${line(options.commands.switch)}; or, when \`${line(options.commands.currentBoot)}\` and ` +
          `\`${line(options.commands.newBoot)}\` differ: ${line(options.commands.boot)} && ${line(options.commands.reboot)}`,
      }[options.reboot];
      const steps: [DeployStep, string][] = [
        ["health", `GET /api/v1/nodes: ${healthDetail([host])}`],
        ["cordon", `PATCH /api/v1/nodes/${host.name} spec.unschedulable=true`],
        [
          "drain",
          `POST policy/v1 Eviction for each pod on ${host.name} but DaemonSet and mirror pods`,
        ],
        ["build", line(options.commands.build)],
        ["activate", activation],
        ["wait-ready", `node ${host.name} Ready, then ${line(options.commands.k3sHealth)}`],
        ["uncordon", `PATCH /api/v1/nodes/${host.name} spec.unschedulable=false`],
      ];
      for (const [step, detail] of steps) {
        await record.emit({
          type: "deploy.step",
          host: host.name,
          step,
          status: "planned",
          detail,
        });
      }
    }
  }
}

function podList(pods: readonly string[]): string {
  return `${pods.length} pod(s)${pods.length > 0 ? ` [${pods.join(", ")}]` : ""}`;
}

function healthDetail(batch: readonly Host[]): string {
  const servers = batch.some((host) => host.role === "server");
  return `every node Ready${servers ? ", etcd keeps a majority without it" : ""}`;
}

function commandValuesFor(host: Host, inventory: Inventory): CommandValues {
  return {
    flake: flakeReference(inventory.cluster.flake, inventory.source),
    host: host.name,
    address: host.address,
  };
}

function commandLine(
  template: readonly string[],
  values: CommandValues,
  options: DeployOptions,
): string {
  return renderCommand(
    template,
    { toplevel: "<built system>", ...values },
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

/** Stamps events, hands them to the listener and appends them to the history file. */
class EventRecorder {
  constructor(
    readonly deployId: string,
    readonly historyFile: string | undefined,
    readonly listener: DeployEventListener,
  ) {}

  async emit(input: DeployEventInput): Promise<void> {
    const event = { ...input, time: Date.now(), deployId: this.deployId } as DeployEvent;
    if (this.historyFile) {
      await appendLine(this.historyFile, JSON.stringify(event));
    }
    this.listener(event);
  }
}

/** Keeps the progress record and writes it after every change, one write at a time. */
class ProgressRecorder {
  #progress: DeployProgress;
  #writing: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    initial: DeployProgress,
  ) {
    this.#progress = initial;
  }

  host(name: string): HostProgress | undefined {
    return this.#progress.hosts[name];
  }

  step(name: string, step: DeployStep): Promise<void> {
    return this.update(name, { step, failed: false, error: undefined });
  }

  done(name: string): Promise<void> {
    return this.update(name, { step: "done" });
  }

  failed(name: string, error: string): Promise<void> {
    return this.update(name, { failed: true, error });
  }

  update(name: string, change: Partial<HostProgress>): Promise<void> {
    const before: HostProgress = this.#progress.hosts[name] ?? {
      step: "health",
      failed: false,
      wasUnschedulable: undefined,
      error: undefined,
      updatedAt: 0,
    };
    const after = { ...before, ...change, updatedAt: Date.now() };
    this.#progress = { ...this.#progress, hosts: { ...this.#progress.hosts, [name]: after } };
    return this.#save();
  }

  finish(): Promise<void> {
    this.#progress = { ...this.#progress, finishedAt: Date.now() };
    return this.#save();
  }

  #save(): Promise<void> {
    const snapshot = this.#progress;
    this.#writing = this.#writing.then(() => saveProgress(this.file, snapshot));
    return this.#writing;
  }
}
