/**
 * `metal install`: the provisioner's main command (docs/install.md). Maps flags to
 * runInstall's options, picks the progress view (live table on a terminal, plain lines
 * otherwise, JSON lines with --json), turns SIGINT/SIGTERM into a clean stop, prints the
 * summary and sets the exit code.
 */
import { join, resolve } from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { formatFindings, runChecks } from "../check/checks.js";
import { loadInventory } from "../inventory/load.js";
import type { Inventory } from "../inventory/types.js";
import { DEFAULT_FIRST_BOOT_TIMEOUT_MS, runInstall } from "../install/orchestrator.js";
import { JsonView, LiveView, openEventLog, PlainView } from "../install/progress.js";
import { DEFAULT_INSTALL_BACK_OFF } from "../install/retry.js";
import { formatSummary } from "../install/summary.js";
import { FileStateStore, STATE_FILE, readStateFile } from "../state/file-store.js";
import { DEFAULT_SELF_HEALING, DEFAULT_WAKE_INTERVAL_MS } from "../install/wake.js";
import { createPowerDrivers } from "../power/drivers.js";
import { defaultStateDir } from "../state/location.js";
import { dashboardAddress, type DashboardFlag } from "../ui/dashboard.js";
import {
  addPreflightOptions,
  checkOptions,
  CONFIG_ERROR_EXIT_CODE,
  DASHBOARD_FLAG_HELP,
  parseListenAddress,
  withInterface,
  type PreflightFlags,
} from "./options.js";

const MS_PER_SECOND = 1000;

interface InstallFlags extends PreflightFlags {
  readonly state?: string;
  readonly reinstall: string[];
  readonly json?: boolean;
  readonly wakeInterval: number;
  readonly firstBootTimeout: number;
  readonly retryDelay: number;
  readonly dhcpTimeout: number;
  readonly callbackTimeout: number;
  readonly powerCycles: number;
  readonly dashboard?: DashboardFlag;
}

function parseSeconds(text: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new InvalidArgumentError(`"${text}" is not a positive number of seconds (e.g. 15)`);
  return seconds;
}

const MAX_POWER_CYCLES = 10;

function parsePowerCycles(text: string): number {
  const count = Number(text);
  if (!Number.isInteger(count) || count < 0 || count > MAX_POWER_CYCLES)
    throw new InvalidArgumentError(
      `"${text}" is not a whole number from 0 to ${MAX_POWER_CYCLES} (e.g. 2)`,
    );
  return count;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const EXIT_CODES = `
Exit codes:
  0    every host is ready (also at once, binding nothing, when all were ready already)
  1    at least one host failed; the summary names each with its reason and last log lines
  2    usage or configuration error: bad flags, or a preflight check failed (the same list
       metal check prints: inventory, installer and iPXE files, interface, keys, install
       command on PATH, git, privileges, ports); nothing was served
  130  interrupted (SIGINT/SIGTERM): installs stopped, state kept; run again to resume

Hosts already ready are skipped; --reinstall NAME is the only way to install one again. Failed
hosts get a new attempt on every run, except hosts that failed waiting for their first boot: they
are installed, and wait again. A host whose pinned SSH host key answers on its address counts as
ready, even when the state directory was deleted. Output of each install: STATE/logs/HOST.log; every event
as JSON: STATE/logs/install.jsonl.`;

/** Nothing to install when every host is ready and none is asked for again: no preflight needed. */
async function allReady(inventory: Inventory, stateDir: string, reinstall: readonly string[]) {
  if (reinstall.length > 0) return false;
  const state = await readStateFile(join(stateDir, STATE_FILE));
  return inventory.hosts.every((host) => state.hosts[host.name]?.phase === "ready");
}

export function registerInstall(program: Command): void {
  addPreflightOptions(
    program
      .command("install")
      .description(
        "PXE-boot and install every host of the inventory that is not ready yet; exits when all are done",
      ),
  )
    .option("--state <dir>", "state directory [default: .metal/ next to the inventory]")
    .option(
      "--reinstall <host>",
      "install this host again even if it is installed or ready (repeatable)",
      collect,
      [],
    )
    .option("--json", "print one JSON object per event instead of the progress view")
    .option("--dashboard [host:port]", DASHBOARD_FLAG_HELP, parseListenAddress)
    .option(
      "--wake-interval <seconds>",
      "re-send Wake-on-LAN this often until the host's first DHCP packet",
      parseSeconds,
      DEFAULT_WAKE_INTERVAL_MS / MS_PER_SECOND,
    )
    .option(
      "--first-boot-timeout <seconds>",
      "how long an installed host may take to call back from its first boot; then SSH with its pinned key decides: ready or failed",
      parseSeconds,
      DEFAULT_FIRST_BOOT_TIMEOUT_MS / MS_PER_SECOND,
    )
    .option(
      "--dhcp-timeout <seconds>",
      "power-cycle a host (where its power driver can: a BMC) that sent no DHCP packet this long after power-on",
      parseSeconds,
      DEFAULT_SELF_HEALING.dhcpTimeoutMs / MS_PER_SECOND,
    )
    .option(
      "--callback-timeout <seconds>",
      "power-cycle a host whose installer has not called back this long after its PXE boot",
      parseSeconds,
      DEFAULT_SELF_HEALING.callbackTimeoutMs / MS_PER_SECOND,
    )
    .option(
      "--power-cycles <count>",
      "power cycles of a stuck host before it counts as failed",
      parsePowerCycles,
      DEFAULT_SELF_HEALING.maxPowerCycles,
    )
    .option(
      "--retry-delay <seconds>",
      "back-off before the first retry of a failed install command (doubles per retry, at most 60 s)",
      parseSeconds,
      DEFAULT_INSTALL_BACK_OFF.baseMs / MS_PER_SECOND,
    )
    .addHelpText("after", EXIT_CODES)
    .action(async (flags: InstallFlags) => {
      const preflight = checkOptions(flags);
      const inventory = withInterface(
        await loadInventory(preflight.inventoryPath),
        flags.interface,
      );
      const stateDir = resolve(flags.state ?? defaultStateDir(preflight.inventoryPath));
      if (!(await allReady(inventory, stateDir, flags.reinstall))) {
        const problems = (await runChecks(preflight)).filter((finding) => !finding.ok);
        if (problems.length > 0) {
          process.stderr.write(
            `metal install: ${problems.length} preflight problem${problems.length === 1 ? "" : "s"}, nothing was started (metal check shows the full list):\n${formatFindings(problems)}\n`,
          );
          process.exitCode = CONFIG_ERROR_EXIT_CODE;
          return;
        }
      }
      const secretsDir = preflight.secretsDir(inventory);
      const interrupt = new AbortController();
      const stop = () => interrupt.abort();
      // `on`, not `once`: execa's signal-exit re-raises a signal that no other listener handles.
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      // The state backend is chosen here, at the edge: the install flow sees only StateStore.
      const store = await FileStateStore.open(stateDir);
      const eventLog = openEventLog(stateDir);
      try {
        const summary = await runInstall({
          inventory,
          store,
          stateDir,
          installerDir: preflight.installerDir,
          installerDirs: preflight.installerDirs,
          firstStageDir: preflight.ipxeDir,
          secretsDir,
          power: createPowerDrivers({ secretsDir }),
          selfHealing: {
            dhcpTimeoutMs: flags.dhcpTimeout * MS_PER_SECOND,
            callbackTimeoutMs: flags.callbackTimeout * MS_PER_SECOND,
            maxPowerCycles: flags.powerCycles,
          },
          reinstall: flags.reinstall,
          httpPort: flags.httpPort,
          wakeIntervalMs: flags.wakeInterval * MS_PER_SECOND,
          firstBootTimeoutMs: flags.firstBootTimeout * MS_PER_SECOND,
          backOff: { ...DEFAULT_INSTALL_BACK_OFF, baseMs: flags.retryDelay * MS_PER_SECOND },
          signal: interrupt.signal,
          dashboard: dashboardAddress(flags.dashboard),
          log: eventLog.log,
          view: (hosts, startedAt) =>
            flags.json
              ? new JsonView(process.stdout)
              : process.stdout.isTTY
                ? new LiveView(process.stdout, hosts, startedAt)
                : new PlainView(process.stdout),
        });
        if (flags.json) process.stdout.write(`${JSON.stringify({ summary })}\n`);
        else process.stdout.write(`\n${formatSummary(summary)}\n`);
        process.exitCode = summary.exitCode;
      } finally {
        await eventLog.close();
        await store.close();
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}
