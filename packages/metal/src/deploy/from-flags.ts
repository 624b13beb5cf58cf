/**
 * `metal deploy` after its flags are parsed: turns flags and the inventory into a deploy, shows
 * its events (terminal lines or `--json`), and returns the exit code. commands/deploy.ts only
 * declares the flags and loads the inventory.
 */
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Inventory } from "../inventory/types.js";
import { dashboardAddress, startDashboard, type DashboardFlag } from "../ui/dashboard.js";
import { EventFeed } from "../ui/event-feed.js";
import { DEFAULT_STATE_DIR_NAME } from "../state/index.js";
import {
  DEFAULT_DEPLOY_COMMANDS,
  REBOOT_MODES,
  type DeployCommands,
  type RebootMode,
} from "./command-templates.js";
import { DEFAULT_DEPLOY_TIMING, runDeploy } from "./rollout.js";
import { DeployUsageError } from "./errors.js";
import type { DeployEvent } from "./events.js";
import { KubeconfigFileAccess, type KubeAccess } from "./kube-access.js";
import { describeDeployEvent, formatFailureReport } from "./output.js";
import { sshOptions } from "../ssh-options.js";
import { resolveSshTrust } from "./ssh-trust.js";
import {
  DEFAULT_TUNNEL_CONNECT_TIMEOUT_MS,
  K3S_KUBECONFIG,
  SshTunnelAccess,
} from "./ssh-tunnel.js";

export interface DeployFlags {
  readonly dryRun: boolean;
  readonly parallel: string;
  readonly reboot: string;
  readonly kubeconfig: string | undefined;
  /** State directory; `.metal` beside the inventory when not given. */
  readonly state: string | undefined;
  readonly knownHosts: string | undefined;
  readonly identity: string | undefined;
  /** Where `metal secrets` keeps host keys and the admin key (docs/secrets.md). */
  readonly secretsDir: string | undefined;
  /** JSON file replacing some of the command templates. */
  readonly commands: string | undefined;
  readonly drainTimeout: string;
  readonly readyTimeout: string;
  readonly confirmTimeout: string;
  /** kubectl drain's `--force`: evict pods no controller recreates. */
  readonly force: boolean;
  /** kubectl drain's `--delete-emptydir-data`: evict pods with emptyDir data. */
  readonly deleteEmptydirData: boolean;
  readonly json: boolean;
  /** `--dashboard [host:port]`: true without a value. */
  readonly dashboard?: DashboardFlag;
}

const MS_PER_SECOND = 1000;

export const EXIT_OK = 0;
export const EXIT_DEPLOY_FAILED = 1;

export interface CommandOutput {
  readonly write: (text: string) => void;
}

/** Runs the deploy; usage errors throw DeployUsageError (the CLI maps those to exit code 2). */
export async function runDeployCommand(
  inventory: Inventory,
  hosts: readonly string[],
  flags: DeployFlags,
  output: CommandOutput,
): Promise<number> {
  const stateDir = resolve(flags.state ?? join(dirname(inventory.source), DEFAULT_STATE_DIR_NAME));
  const commands = flags.commands ? await loadCommands(flags.commands) : DEFAULT_DEPLOY_COMMANDS;
  const trust = usesSsh(commands, flags)
    ? await resolveSshTrust(inventory, stateDir, flags, flags.dryRun)
    : { knownHostsFile: join(stateDir, "known_hosts"), identityFile: undefined };
  const ssh = sshOptions({ ...trust, port: undefined });
  const servers = inventory.hosts.filter((host) => host.role === "server");
  const openAccess = (): KubeAccess =>
    flags.kubeconfig
      ? new KubeconfigFileAccess(resolve(flags.kubeconfig))
      : new SshTunnelAccess(servers, {
          sshCommand: "ssh",
          sshOptions: ssh,
          remoteKubeconfig: K3S_KUBECONFIG,
          connectTimeoutMs: DEFAULT_TUNNEL_CONNECT_TIMEOUT_MS,
        });

  const dashboardEvents = new EventFeed<DeployEvent>();
  const address = dashboardAddress(flags.dashboard);
  const dashboard = address
    ? await startDashboard({ ...address, inventory, deployEvents: dashboardEvents })
    : undefined;
  if (dashboard && !flags.json) output.write(`dashboard: ${dashboard.url}\n`);
  const outcome = await runDeploy({
    inventory,
    only: hosts,
    parallel: wholeNumber("--parallel", flags.parallel, 1),
    reboot: rebootMode(flags.reboot),
    dryRun: flags.dryRun,
    stateDir,
    commands,
    sshOptions: ssh,
    openAccess,
    timing: {
      ...DEFAULT_DEPLOY_TIMING,
      drainTimeoutMs: wholeNumber("--drain-timeout", flags.drainTimeout, 1) * MS_PER_SECOND,
      readyTimeoutMs: wholeNumber("--ready-timeout", flags.readyTimeout, 1) * MS_PER_SECOND,
      confirmTimeoutMs: wholeNumber("--confirm-timeout", flags.confirmTimeout, 1) * MS_PER_SECOND,
    },
    drainFlags: { force: flags.force, deleteEmptydirData: flags.deleteEmptydirData },
    onEvent: (event: DeployEvent) => {
      dashboardEvents.emit(event);
      if (flags.json) return output.write(`${JSON.stringify(event)}\n`);
      const line = describeDeployEvent(event);
      if (line !== undefined) output.write(`${line}\n`);
    },
  }).finally(() => dashboard?.close());
  if (outcome.ok) return EXIT_OK;
  if (!flags.json) output.write(`\n${formatFailureReport(outcome.deployId, outcome.failures)}`);
  return EXIT_DEPLOY_FAILED;
}

/** The SSH tunnel and any command template that connects to a node need pinned host keys. */
function usesSsh(commands: DeployCommands, flags: DeployFlags): boolean {
  return (
    !flags.kubeconfig ||
    Object.values(commands).some(
      (template) => template.includes("{ssh_options}") || template[0] === "nixos-rebuild",
    )
  );
}

function wholeNumber(flag: string, value: string, minimum: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < minimum) {
    throw new DeployUsageError(
      `${flag} must be a whole number of at least ${minimum}, got "${value}" (e.g. ${flag} 2)`,
    );
  }
  return parsed;
}

function rebootMode(value: string): RebootMode {
  const mode = REBOOT_MODES.find((candidate) => candidate === value);
  if (!mode) {
    throw new DeployUsageError(
      `--reboot must be one of ${REBOOT_MODES.join(", ")}, got "${value}"`,
    );
  }
  return mode;
}

/** `--commands FILE`: a JSON object replacing some templates, e.g. `{"switch": ["my-switch", "{host}"]}`. */
export async function loadCommands(file: string): Promise<DeployCommands> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new DeployUsageError(
      `--commands ${file}: cannot read it as JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new DeployUsageError(`--commands ${file}: expected a JSON object of argv lists`);
  }
  const known = Object.keys(DEFAULT_DEPLOY_COMMANDS);
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.includes(key)) {
      throw new DeployUsageError(
        `--commands ${file}: unknown command "${key}" (known: ${known.join(", ")})`,
      );
    }
    if (
      !Array.isArray(value) ||
      value.length === 0 ||
      !value.every((argument) => typeof argument === "string")
    ) {
      throw new DeployUsageError(
        `--commands ${file}: "${key}" must be a non-empty list of strings, e.g. ["nixos-rebuild", "switch", "--flake", "{flake}#{host}"]`,
      );
    }
  }
  return { ...DEFAULT_DEPLOY_COMMANDS, ...(parsed as Partial<DeployCommands>) };
}
