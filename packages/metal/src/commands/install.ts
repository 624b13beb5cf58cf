/**
 * `metal install`: the provisioner's main command (docs/install.md). Maps flags to
 * runInstall's options, picks the progress view (live table on a terminal, plain lines
 * otherwise, JSON lines with --json), turns SIGINT/SIGTERM into a clean stop, prints the
 * summary and sets the exit code.
 */
import { dirname, join, resolve } from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { DEFAULT_HTTP_PORT } from "../check/ports.js";
import { DEFAULT_INVENTORY_FILE, loadInventory } from "../inventory/load.js";
import { DEFAULT_FIRST_BOOT_TIMEOUT_MS, runInstall } from "../install/orchestrator.js";
import { JsonView, LiveView, openEventLog, PlainView } from "../install/progress.js";
import { DEFAULT_INSTALL_BACK_OFF } from "../install/retry.js";
import { formatSummary } from "../install/summary.js";
import { DEFAULT_WAKE_INTERVAL_MS } from "../install/wake.js";
import { resolveSecretsDir, SECRETS_DIR_ENV } from "../secrets/layout.js";
import { FileStateStore } from "../state/file-store.js";
import { defaultStateDir } from "../state/location.js";
import {
  DASHBOARD_FLAG_HELP,
  dashboardAddress,
  parseListenAddress,
  parsePort,
  type DashboardFlag,
} from "./options.js";

/** `nix build .#installer` leaves `result` next to the flake. */
const DEFAULT_INSTALLER_LINK = "result";
const MS_PER_SECOND = 1000;

interface InstallFlags {
  readonly inventory: string;
  readonly state?: string;
  readonly installer?: string;
  readonly secretsDir?: string;
  readonly httpPort: number;
  readonly reinstall: string[];
  readonly json?: boolean;
  readonly wakeInterval: number;
  readonly firstBootTimeout: number;
  readonly retryDelay: number;
  readonly dashboard?: DashboardFlag;
}

function parseSeconds(text: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new InvalidArgumentError(`"${text}" is not a positive number of seconds (e.g. 15)`);
  return seconds;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const EXIT_CODES = `
Exit codes:
  0    every host is ready (also at once, binding nothing, when all were ready already)
  1    at least one host failed; the summary names each with its reason and last log lines
  2    usage or configuration error (bad flags, invalid inventory, missing installer or keys)
  130  interrupted (SIGINT/SIGTERM): installs stopped, state kept; run again to resume

Hosts already ready are skipped; --reinstall NAME is the only way to install one again. Failed
hosts get a new attempt on every run, except hosts that failed waiting for their first boot: they
are installed, and wait again. A host whose pinned SSH host key answers on its address counts as
ready, even when the state directory was deleted. Output of each install: STATE/logs/HOST.log; every event
as JSON: STATE/logs/install.jsonl.`;

export function registerInstall(program: Command): void {
  program
    .command("install")
    .description(
      "PXE-boot and install every host of the inventory that is not ready yet; exits when all are done",
    )
    .option("--inventory <file>", "the inventory", DEFAULT_INVENTORY_FILE)
    .option("--state <dir>", "state directory [default: .metal/ next to the inventory]")
    .option(
      "--installer <dir>",
      `installer files (bzImage, initrd, cmdline) [default: ${DEFAULT_INSTALLER_LINK} next to the inventory]`,
    )
    .option(
      "--secrets-dir <dir>",
      `private keys from metal secrets [default: $${SECRETS_DIR_ENV}, else ~/.config/metal/<cluster>]`,
    )
    .option(
      "--http-port <port>",
      "HTTP port (boot files, callback API)",
      parsePort,
      DEFAULT_HTTP_PORT,
    )
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
      "--retry-delay <seconds>",
      "back-off before the first retry of a failed install command (doubles per retry, at most 60 s)",
      parseSeconds,
      DEFAULT_INSTALL_BACK_OFF.baseMs / MS_PER_SECOND,
    )
    .addHelpText("after", EXIT_CODES)
    .action(async (flags: InstallFlags) => {
      const inventoryPath = resolve(flags.inventory);
      const inventory = await loadInventory(inventoryPath);
      const stateDir = resolve(flags.state ?? defaultStateDir(inventoryPath));
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
          installerDir: resolve(
            flags.installer ?? join(dirname(inventoryPath), DEFAULT_INSTALLER_LINK),
          ),
          secretsDir: resolveSecretsDir(inventory, flags.secretsDir),
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
