/**
 * `metal reinstall <host>`: the explicit, confirmed way to install a running host again
 * (docs/power.md, ADR 0201). It marks the host for a new install, serves PXE as `metal install`
 * does, makes the running machine boot from the network once (through its BMC, else over SSH
 * with the admin key and the host's pinned key) and installs it. Nothing happens without
 * `--yes` or the host's name typed on a terminal; without a terminal and `--yes` it refuses.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { execa } from "execa";
import { interfaceIpv4 } from "netboot";
import { DEFAULT_HTTP_PORT } from "../check/ports.js";
import { sshOptions } from "../ssh-options.js";
import { runInstall } from "../install/orchestrator.js";
import { openEventLog, PlainView } from "../install/progress.js";
import { formatSummary } from "../install/summary.js";
import { DEFAULT_INVENTORY_FILE, loadInventory } from "../inventory/load.js";
import type { Host } from "../inventory/types.js";
import { createPowerDrivers } from "../power/drivers.js";
import { PowerError } from "../power/errors.js";
import { bootFromNetworkOnce, type RemoteShell } from "../power/network-boot.js";
import { knownHostsLine } from "../secrets/extra-files.js";
import { privatePaths, resolveSecretsDir, SECRETS_DIR_ENV } from "../secrets/layout.js";
import { FileStateStore, readStateFile, STATE_FILE } from "../state/file-store.js";
import { defaultStateDir } from "../state/location.js";
import { REINSTALLABLE } from "../state/lifecycle.js";
import { parsePort } from "./options.js";

const EXIT_USAGE = 2;
const EXIT_FAILED = 1;
const SSH_CONNECT_TIMEOUT_SECONDS = 20;
const DEFAULT_INSTALLER_LINK = "result";

const HELP = `
It erases the host's disk: confirm with --yes, or by typing the host's name when asked (a
terminal is needed for that; without one and without --yes it refuses).

The machine boots from the network once: through its BMC (one-time PXE boot flag, then a power
cycle) when the inventory gives it one; otherwise over SSH as root with the admin key and the
host's pinned key: UEFI gets a one-time BootNext on its network entry (efibootmgr) and a reboot,
BIOS gets its disk's boot sector zeroed and a reboot, so the firmware falls through to PXE.

Exit codes:
  0  the host was installed again and is ready (as with metal install, other hosts that are not
     ready yet get an attempt in the same run)
  1  the install or the network boot failed (the host stays pending; the message says why)
  2  usage error, not confirmed, unknown host, or a host that is not installed yet`;

interface ReinstallFlags {
  readonly yes?: boolean;
  readonly inventory: string;
  readonly state?: string;
  readonly installer?: string;
  readonly secretsDir?: string;
  readonly httpPort: number;
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

/** Whether to go on: --yes, or the host's name typed back; a reason to stop otherwise. */
export async function confirmReinstall(
  host: string,
  yes: boolean,
  confirm: Confirm,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (yes) return { ok: true };
  const answer = await confirm(
    `metal reinstall erases ${host}'s disk and installs it again. Type "${host}" to go on: `,
  );
  if (answer === undefined)
    return {
      ok: false,
      reason: `refusing to reinstall ${host} without confirmation: no terminal to ask on; pass --yes`,
    };
  return answer.trim() === host
    ? { ok: true }
    : {
        ok: false,
        reason: `not confirmed (typed "${answer.trim()}", not "${host}"); nothing was changed`,
      };
}

/** ssh as root to the host's inventory address, trusting only its pre-generated key. */
function pinnedSsh(secretsDir: string, workDir: string): RemoteShell {
  return async (host: Host, command: string) => {
    const knownHosts = join(workDir, "known_hosts");
    await writeFile(knownHosts, `${await knownHostsLine(host, secretsDir)}\n`);
    const result = await execa(
      "ssh",
      [
        ...sshOptions({
          knownHostsFile: knownHosts,
          identityFile: privatePaths(secretsDir).adminSshKey,
          port: undefined,
        }),
        "-o",
        `ConnectTimeout=${SSH_CONNECT_TIMEOUT_SECONDS}`,
        `root@${host.address}`,
        command,
      ],
      { reject: false, stdin: "ignore" },
    );
    if (result.exitCode !== 0)
      throw new PowerError(
        `host "${host.name}": \`${command.split(" ")[0]}\` over SSH to root@${host.address} failed ` +
          `(exit ${result.exitCode ?? "?"}: ${result.stderr.trim().slice(-300) || "no output"})`,
      );
    return result.stdout;
  };
}

export function registerReinstall(program: Command, confirm: Confirm = terminalConfirm): void {
  program
    .command("reinstall")
    .description("erase and install a running host again: it boots from the network once")
    .argument("<host>", "an installed host of the inventory")
    .option("--yes", "do not ask: the host's disk will be erased")
    .option("--inventory <file>", "the inventory", DEFAULT_INVENTORY_FILE)
    .option("--state <dir>", "state directory [default: .metal/ next to the inventory]")
    .option(
      "--installer <dir>",
      `installer files [default: ${DEFAULT_INSTALLER_LINK} next to the inventory]`,
    )
    .option(
      "--secrets-dir <dir>",
      `admin key, host keys, BMC credentials [default: $${SECRETS_DIR_ENV}]`,
    )
    .option(
      "--http-port <port>",
      "HTTP port (boot files, callback API)",
      parsePort,
      DEFAULT_HTTP_PORT,
    )
    .addHelpText("after", HELP)
    .action(async (name: string, flags: ReinstallFlags) => {
      const inventoryPath = resolve(flags.inventory);
      const inventory = await loadInventory(inventoryPath);
      const stateDir = resolve(flags.state ?? defaultStateDir(inventoryPath));
      const fail = (code: number, message: string) => {
        process.stderr.write(`metal reinstall: ${message}\n`);
        process.exitCode = code;
      };
      const host = inventory.hosts.find((candidate) => candidate.name === name);
      if (!host) return fail(EXIT_USAGE, `no host "${name}" in ${inventory.source}`);
      const record = (await readStateFile(join(stateDir, STATE_FILE))).hosts[name];
      if (!record || !REINSTALLABLE.includes(record.phase))
        return fail(
          EXIT_USAGE,
          `${name} is ${record?.phase ?? "not in the state yet"}, not ${REINSTALLABLE.join(", ")}: ` +
            "run metal install for a host that was never installed",
        );
      const decision = await confirmReinstall(name, flags.yes ?? false, confirm);
      if (!decision.ok) return fail(EXIT_USAGE, decision.reason);

      const secretsDir = resolveSecretsDir(inventory, flags.secretsDir);
      const power = createPowerDrivers({ secretsDir });
      // From the installer that last called back: the state forgets it once the new attempt starts.
      const firmware = record.installer?.facts.firmware;
      await mkdir(stateDir, { recursive: true });
      const workDir = await mkdtemp(join(tmpdir(), "metal-reinstall-"));
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
          installerDir: resolve(
            flags.installer ?? join(dirname(inventoryPath), DEFAULT_INSTALLER_LINK),
          ),
          secretsDir,
          reinstall: [name],
          httpPort: flags.httpPort,
          power,
          signal: interrupt.signal,
          log: eventLog.log,
          view: () => new PlainView(process.stdout),
          onServing: async () => {
            const driver = await power(host, {
              get broadcastAddress() {
                return interfaceIpv4(inventory.network.interface).broadcast;
              },
            });
            const how = await bootFromNetworkOnce({
              host,
              driver,
              firmware,
              ssh: pinnedSsh(secretsDir, workDir),
            });
            return `${name}: ${how}`;
          },
        });
        process.stdout.write(`\n${formatSummary(summary)}\n`);
        process.exitCode = summary.exitCode;
      } catch (error) {
        if (!(error instanceof PowerError)) throw error;
        fail(
          EXIT_FAILED,
          `${error.message}. ${name} stays pending: fix this and run metal reinstall ${name} --yes again`,
        );
      } finally {
        await store.close();
        await eventLog.close();
        await rm(workDir, { recursive: true, force: true });
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}
