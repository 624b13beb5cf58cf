/**
 * `metal reinstall <host...>`: the explicit, confirmed way to install running hosts again
 * (docs/power.md, ADR 0201). It marks the hosts for a new install, serves PXE as `metal install`
 * does, makes each running machine boot from the network once (through its BMC, else over SSH
 * with the admin key and the host's pinned key) and installs them in one run. Nothing happens
 * without `--yes` or the hosts' names typed on a terminal; without a terminal and `--yes` it
 * refuses.
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { interfaceIpv4 } from "netboot";
import { hostsWithoutInstaller, type InstallerDirs } from "../boot/installer-dirs.js";
import { runInstall } from "../install/orchestrator.js";
import { openEventLog, PlainView } from "../install/progress.js";
import { formatSummary } from "../install/summary.js";
import { loadInventory } from "../inventory/load.js";
import type { Host, Inventory } from "../inventory/types.js";
import { createPowerDrivers } from "../power/drivers.js";
import { PowerError } from "../power/errors.js";
import { bootFromNetworkOnce, type RemoteShell } from "../power/network-boot.js";
import { runPinnedRootSsh } from "../install/pinned-root-ssh.js";
import { FileStateStore, readStateFile, STATE_FILE } from "../state/file-store.js";
import { defaultStateDir } from "../state/location.js";
import { REINSTALLABLE } from "../state/lifecycle.js";
import type { HostRecord } from "../state/types.js";
import {
  addPreflightOptions,
  checkOptions,
  withInterface,
  type PreflightFlags,
} from "./options.js";

const EXIT_USAGE = 2;
const EXIT_FAILED = 1;
const SSH_CONNECT_TIMEOUT_SECONDS = 20;
/** Login, efibootmgr or the disk wipe, and the reboot request: seconds on a live host. */
const REMOTE_COMMAND_TIMEOUT_MS = 90_000;

const HELP = `
It erases each named host's disk: confirm with --yes, or by typing the hosts' names when asked
(a terminal is needed for that; without one and without --yes it refuses). Several hosts are
installed again in one run; every name is checked before anything changes.

The machine boots from the network once: through its BMC (one-time PXE boot flag, then a power
cycle) when the inventory gives it one; otherwise over SSH as root with the admin key and the
host's pinned key: UEFI gets a one-time BootNext on its network entry (efibootmgr) and a reboot,
BIOS gets its disk's boot sector zeroed and a reboot, so the firmware falls through to PXE.

The hosts' network boots are arranged one after another; if one fails, the run stops there
and says which hosts already boot from the network. All named hosts stay pending: metal
install installs each as it boots from the network.

Exit codes:
  0  the hosts were installed again and are ready (as with metal install, other hosts that are
     not ready yet get an attempt in the same run)
  1  an install or a network boot failed (the host stays pending; the message says why)
  2  usage error, not confirmed, unknown host, or a host that is not installed yet`;

/** install's flags (--installer per architecture, --ipxe-dir, -i, …) and its own two. */
interface ReinstallFlags extends PreflightFlags {
  readonly yes?: boolean;
  readonly state?: string;
}

/** The answer a user typed, or undefined without a terminal. */
export type Confirm = (question: string) => Promise<string | undefined>;

const terminalConfirm: Confirm = async (question) => {
  if (!process.stdin.isTTY) return undefined;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await prompt.question(question);
  } finally {
    prompt.close();
  }
};

/** Whether to go on: --yes, or the hosts' names typed back; a reason to stop otherwise. */
export async function confirmReinstall(
  hosts: readonly string[],
  yes: boolean,
  confirm: Confirm,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (yes) return { ok: true };
  const names = hosts.join(" ");
  const what =
    hosts.length === 1
      ? `${names}'s disk and installs it`
      : `the disks of ${hosts.join(", ")} and installs them`;
  const answer = await confirm(`metal reinstall erases ${what} again. Type "${names}" to go on: `);
  if (answer === undefined)
    return {
      ok: false,
      reason: `refusing to reinstall ${hosts.join(", ")} without confirmation: no terminal to ask on; pass --yes`,
    };
  const typed = answer.trim().split(/\s+/).join(" ");
  return typed === names
    ? { ok: true }
    : {
        ok: false,
        reason: `not confirmed (typed "${answer.trim()}", not "${names}"); nothing was changed`,
      };
}

/**
 * Every named host, or the first reason not to start: checked before anything changes, so a
 * typo in the third name leaves the first two running their systems.
 */
function hostsToReinstall(
  inventory: Inventory,
  hosts: Record<string, HostRecord>,
  names: readonly string[],
  installerDirs: InstallerDirs,
): { ok: true; hosts: Host[] } | { ok: false; reason: string } {
  const found: Host[] = [];
  const withoutInstaller = hostsWithoutInstaller(inventory, installerDirs);
  for (const name of new Set(names)) {
    const host = inventory.hosts.find((candidate) => candidate.name === name);
    if (!host)
      return {
        ok: false,
        reason: `no host "${name}" in ${inventory.source} (hosts: ${inventory.hosts.map((h) => h.name).join(", ")})`,
      };
    const record = hosts[name];
    if (!record || !REINSTALLABLE.includes(record.phase))
      return {
        ok: false,
        reason:
          `${name} is ${record?.phase ?? "not in the state yet"}, not ${REINSTALLABLE.join(", ")}: ` +
          "run metal install for a host that was never installed; nothing was changed",
      };
    const missing = withoutInstaller.find((entry) => entry.host === name);
    if (missing)
      return {
        ok: false,
        reason: `${name} is ${missing.arch} and no installer for ${missing.arch} was given: ${missing.fix}; nothing was changed`,
      };
    found.push(host);
  }
  return { ok: true, hosts: found };
}

/** ssh as root to the host's inventory address, trusting only its pre-generated key. */
function pinnedSsh(secretsDir: string): RemoteShell {
  return async (host: Host, command: string) => {
    const result = await runPinnedRootSsh(host, command, {
      secretsDir,
      connectTimeoutSeconds: SSH_CONNECT_TIMEOUT_SECONDS,
      timeoutMs: REMOTE_COMMAND_TIMEOUT_MS,
    });
    if (result.exitCode !== 0)
      throw new PowerError(
        `host "${host.name}": \`${command.split(" ")[0]}\` over SSH to root@${host.address} failed ` +
          `(${result.timedOut ? `no answer within ${REMOTE_COMMAND_TIMEOUT_MS / 1000} s` : `exit ${result.exitCode ?? "?"}`}: ${result.stderr.trim().slice(-300) || "no output"})`,
      );
    return result.stdout;
  };
}

export function registerReinstall(program: Command, confirm: Confirm = terminalConfirm): void {
  addPreflightOptions(
    program
      .command("reinstall")
      .description("erase and install a running host again: it boots from the network once")
      .argument("<hosts...>", "installed hosts of the inventory")
      .option("--yes", "do not ask: the host's disk will be erased"),
  )
    .option("--state <dir>", "state directory [default: .metal/ next to the inventory]")
    .addHelpText("after", HELP)
    .action(async (names: string[], flags: ReinstallFlags) => {
      // The same flags, paths and defaults as metal install (commands/options.ts).
      const preflight = checkOptions(flags);
      const inventoryPath = preflight.inventoryPath;
      const inventory = withInterface(await loadInventory(inventoryPath), flags.interface);
      const stateDir = resolve(flags.state ?? defaultStateDir(inventoryPath));
      const fail = (code: number, message: string) => {
        process.stderr.write(`metal reinstall: ${message}\n`);
        process.exitCode = code;
      };
      const records = (await readStateFile(join(stateDir, STATE_FILE))).hosts;
      const installerDirs = preflight.installerDirs ?? { x86_64: preflight.installerDir };
      const chosen = hostsToReinstall(inventory, records, names, installerDirs);
      if (!chosen.ok) return fail(EXIT_USAGE, chosen.reason);
      const hosts = chosen.hosts;
      const decision = await confirmReinstall(
        hosts.map((host) => host.name),
        flags.yes ?? false,
        confirm,
      );
      if (!decision.ok) return fail(EXIT_USAGE, decision.reason);

      const secretsDir = preflight.secretsDir(inventory);
      const power = createPowerDrivers({ secretsDir });
      // From the installer that last called back: the state forgets it once the new attempt starts.
      const firmwareOf = (host: Host) => records[host.name]?.installer?.facts.firmware;
      const sentToNetwork: string[] = [];
      await mkdir(stateDir, { recursive: true });
      const interrupt = new AbortController();
      const stop = () => interrupt.abort();
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      const eventLog = openEventLog(stateDir);
      const store = await FileStateStore.open(stateDir);
      try {
        const summary = await runInstall({
          // The whole inventory: callbacks are checked against every host's address.
          inventory,
          store,
          stateDir,
          installerDir: preflight.installerDir,
          installerDirs,
          firstStageDir: preflight.ipxeDir,
          secretsDir,
          reinstall: hosts.map((host) => host.name),
          httpPort: flags.httpPort,
          power,
          signal: interrupt.signal,
          log: eventLog.log,
          view: () => new PlainView(process.stdout),
          onServing: async () => {
            const lines: string[] = [];
            for (const host of hosts) {
              const driver = await power(host, {
                get broadcastAddress() {
                  return interfaceIpv4(inventory.network.interface).broadcast;
                },
              });
              const how = await bootFromNetworkOnce({
                host,
                driver,
                firmware: firmwareOf(host),
                ssh: pinnedSsh(secretsDir),
              });
              sentToNetwork.push(host.name);
              lines.push(`${host.name}: ${how}`);
            }
            return lines.join("\n");
          },
        });
        process.stdout.write(`\n${formatSummary(summary)}\n`);
        process.exitCode = summary.exitCode;
      } catch (error) {
        if (!(error instanceof PowerError)) throw error;
        // prepareRun already moved every named host to pending, so metal reinstall would now
        // refuse them; metal install installs a pending host once it boots from the network.
        const sent =
          sentToNetwork.length > 0
            ? `; ${sentToNetwork.join(", ")} already boot${sentToNetwork.length === 1 ? "s" : ""} from the network`
            : "";
        fail(
          EXIT_FAILED,
          `${error.message}. ${hosts.map((host) => host.name).join(", ")} stay pending${sent}: ` +
            "fix this and run metal install, which installs each pending host as it boots from the network",
        );
      } finally {
        await store.close();
        await eventLog.close();
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}
