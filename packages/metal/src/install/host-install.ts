/**
 * One host's install, from an accepted installer to `installed` or `failed`: per attempt a fresh
 * first-boot token and extra-files tree, the pinned known_hosts, the expanded command template
 * run with its output in `STATE/logs/HOST.log` and an `ssh` first on its PATH that enforces
 * the pinned key for every connection it makes (pinned-ssh.ts); a failed attempt goes back to
 * `installer` and runs again after a back-off until `install.retries` is used up.
 */
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { mintFirstBootToken } from "../callback/tokens.js";
import { flakeReference } from "../inventory/flake-reference.js";
import type { Host, Inventory } from "../inventory/types.js";
import { privatePaths } from "../secrets/layout.js";
import type { StateStore } from "../state/store.js";
import { DEFAULT_INSTALL_COMMAND, expandTemplate } from "./command-template.js";
import { prepareAttemptFiles } from "./host-files.js";
import { createPinnedSsh } from "./pinned-ssh.js";
import { retryDelayMs, type BackOff } from "./retry.js";
import { runLogged, type LoggedRun } from "../run-logged.js";
import { move } from "../state/lifecycle.js";

export interface HostInstallContext {
  readonly inventory: Inventory;
  readonly store: StateStore;
  readonly secretsDir: string;
  readonly stateDir: string;
  readonly callbackBaseUrl: string;
  readonly backOff: BackOff;
  /** Aborting kills a running install command and stops between attempts. */
  readonly signal: AbortSignal;
  /** Each output line of the install command, for the progress view. */
  readonly onLine?: (host: string, line: string) => void;
}

export function hostLogFile(stateDir: string, host: string): string {
  return path.join(stateDir, "logs", `${host}.log`);
}

export function hostWorkDir(stateDir: string, host: string): string {
  return path.join(stateDir, "hosts", host);
}

function describeEnding(run: LoggedRun): string {
  return run.exitCode !== undefined ? `exit code ${run.exitCode}` : `killed by ${run.signal}`;
}

async function runAttempt(
  context: HostInstallContext,
  host: Host,
  tryLabel: string,
): Promise<LoggedRun> {
  const { store } = context;
  const record = store.host(host.name);
  if (!record?.installer)
    throw new Error(`host "${host.name}" has no accepted installer to install onto`);
  const token = await mintFirstBootToken(store, host.name);
  const workDir = hostWorkDir(context.stateDir, host.name);
  const files = await prepareAttemptFiles({
    host,
    secretsDir: context.secretsDir,
    workDir,
    callbackBaseUrl: context.callbackBaseUrl,
    firstBootToken: token,
    installer: record.installer,
  });
  const pinnedSsh = await createPinnedSsh(
    path.join(workDir, "pinned-ssh"),
    files.knownHosts,
    process.env.PATH ?? "",
  ).catch(async (error: unknown) => {
    await files.cleanup();
    throw error;
  });
  try {
    const argv = expandTemplate(context.inventory.install.command ?? DEFAULT_INSTALL_COMMAND, {
      flake: flakeReference(context.inventory),
      host: host.name,
      ip: record.installer.ip,
      address: host.address,
      disk: host.disk,
      key: privatePaths(context.secretsDir).adminSshKey,
      extra_files: files.dir,
      known_hosts: files.knownHosts,
      work_dir: workDir,
    });
    return await runLogged({
      argv,
      logFile: hostLogFile(context.stateDir, host.name),
      header: `${host.name} attempt ${record.attempt}, ${tryLabel}`,
      env: { PATH: pinnedSsh.path },
      signal: context.signal,
      onLine: (line) => context.onLine?.(host.name, line),
    });
  } finally {
    await pinnedSsh.cleanup();
    await files.cleanup();
  }
}

/**
 * Installs `host`, which must be in `installer`. Resolves once it is `installed` or `failed`
 * (or when aborted: the host then stays in `installing`, which a restart resumes).
 */
export async function installHost(context: HostInstallContext, host: Host): Promise<void> {
  const { store, signal } = context;
  const tries = context.inventory.install.retries + 1;
  for (let tryNumber = 1; tryNumber <= tries; tryNumber++) {
    if (signal.aborted) return;
    await store.change(
      host.name,
      move("installStarted", `install command started (try ${tryNumber} of ${tries})`),
    );
    let ending: string;
    try {
      const run = await runAttempt(context, host, `try ${tryNumber} of ${tries}`);
      if (signal.aborted) return;
      if (run.exitCode === 0) {
        await store.change(
          host.name,
          move("installDone", "install command finished; waiting for the first boot"),
        );
        return;
      }
      ending = `install command failed (${describeEnding(run)}); last line: ${run.tail.at(-1) ?? "(no output)"}`;
    } catch (error) {
      if (signal.aborted) return;
      ending = `install could not run: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (tryNumber === tries) {
      await store.change(
        host.name,
        move("fail", `install failed ${tries} time${tries === 1 ? "" : "s"}`, {
          from: "installing",
          reason: `${ending} (see ${hostLogFile(context.stateDir, host.name)})`,
        }),
      );
      return;
    }
    const delay = retryDelayMs(tryNumber, context.backOff);
    await store.change(
      host.name,
      move("installAgain", `${ending}; retry in ${Math.round(delay / 1000)} s`),
    );
    await sleep(delay, undefined, { signal }).catch(() => undefined);
  }
}
