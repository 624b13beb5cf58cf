/**
 * What a run does with the state it finds (docs/state.md, "What resumes after a crash"):
 * `--reinstall NAME` starts a new attempt for a finished host, failed hosts get a new attempt,
 * and a host caught mid-install runs its install again if its installer still answers on SSH,
 * or starts over from PXE if the machine went away meanwhile. Boot-once (ADR 0181): an installed
 * host is never sent back to the installer without `--reinstall`. A host that failed waiting for
 * its first boot waits again; a host in `installed`, or one the state does not know (a deleted
 * state directory), whose pinned host key answers on its inventory address is `ready`.
 */
import { Socket } from "node:net";
import type { Host, Inventory } from "../inventory/types.js";
import { reinstall } from "../state/reinstall.js";
import type { StateStore } from "../state/store.js";
import { REINSTALLABLE } from "../state/transitions.js";
import { ConfigError } from "./errors.js";
import type { InstalledProbe } from "./installed-probe.js";

export const SSH_PORT = 22;
const PROBE_TIMEOUT_MS = 3_000;

/** Whether something accepts TCP connections on `address:port` (an installer's sshd). */
export function tcpAnswers(
  address: string,
  port: number,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const finish = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once("error", () => finish(false));
    socket.connect(port, address, () => finish(true));
  });
}

export interface PrepareOptions {
  readonly store: StateStore;
  readonly inventory: Inventory;
  readonly reinstall: readonly string[];
  /** Does the installer at this address still answer? Default: TCP to its SSH port. */
  readonly installerAnswers?: (address: string) => Promise<boolean>;
  /** Is this host installed (its pinned host key answers on its address)? */
  readonly installedAnswers: InstalledProbe;
}

function installedStep(host: Host, why: string): string {
  return `${why}: its pinned SSH host key answered on ${host.address}`;
}

export async function prepareRun(options: PrepareOptions): Promise<void> {
  const { store, inventory } = options;
  const names = new Set(inventory.hosts.map((host) => host.name));
  for (const name of options.reinstall)
    if (!names.has(name))
      throw new ConfigError(
        `--reinstall ${name}: no host of that name in ${inventory.source} (hosts: ${[...names].join(", ")})`,
      );
  const unknownToState = [...names].filter((name) => store.host(name) === undefined);
  await store.register([...names]);

  for (const name of options.reinstall) {
    if (REINSTALLABLE.includes(store.host(name)!.phase)) await reinstall(store, name);
  }
  const answers = options.installerAnswers ?? ((address: string) => tcpAnswers(address, SSH_PORT));
  const reinstalled = new Set(options.reinstall);
  const byName = new Map(inventory.hosts.map((host) => [host.name, host]));
  // Asked of all at once: a host that is not there costs a connect timeout, not one per host.
  const installed = new Map(
    await Promise.all(
      inventory.hosts
        .filter((host) => {
          const record = store.host(host.name)!;
          if (reinstalled.has(host.name) && record.phase === "pending") return false;
          return (
            record.phase === "installed" ||
            (record.phase === "failed" && record.failure?.phase === "installed") ||
            unknownToState.includes(host.name)
          );
        })
        .map(async (host) => [host.name, await options.installedAnswers(host)] as const),
    ),
  );
  for (const name of names) {
    const record = store.host(name)!;
    const host = byName.get(name)!;
    if (installed.get(name) === true) {
      if (record.phase === "failed")
        await store.change(name, {
          expect: "failed",
          to: "installed",
          step: "failed waiting for its first boot, but it is installed",
        });
      await store.change(name, {
        expect: ["pending", "installed"],
        to: "ready",
        step: installedStep(
          host,
          record.phase === "pending"
            ? "found installed although the state had no record of it"
            : "installed and up",
        ),
      });
    } else if (record.phase === "failed" && record.failure?.phase === "installed") {
      await store.change(name, {
        expect: "failed",
        to: "installed",
        step: "installed, waiting for its first boot again (never installed twice without --reinstall)",
      });
    } else if (record.phase === "failed") {
      await store.change(name, {
        expect: "failed",
        to: "pending",
        step: `new attempt after: ${record.failure?.reason ?? record.lastStep}`,
      });
    } else if (record.phase === "installer" || record.phase === "installing") {
      const address = record.installer?.ip;
      if (address !== undefined && (await answers(address))) {
        if (record.phase === "installing")
          await store.change(name, {
            expect: "installing",
            to: "installer",
            step: `resumed after a restart: installer at ${address} still answers; install runs again`,
          });
        continue;
      }
      await store.change(name, {
        expect: record.phase,
        to: "failed",
        step: "installer gone after a restart",
        reason: `installer at ${address ?? "an unknown address"} stopped answering while metal was not running`,
      });
      await store.change(name, {
        expect: "failed",
        to: "pending",
        step: "new attempt: the machine boots the installer again",
      });
    }
  }
}
