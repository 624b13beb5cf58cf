/**
 * What a run does with the state it finds (docs/state.md, "What resumes after a crash"):
 * `--reinstall NAME` starts a new attempt for a finished host, failed hosts get a new attempt,
 * and a host caught mid-install runs its install again if its installer still answers on SSH,
 * or starts over from PXE if the machine went away meanwhile.
 */
import { Socket } from "node:net";
import type { Inventory } from "../inventory/types.js";
import { reinstall } from "../state/reinstall.js";
import type { StateStore } from "../state/store.js";
import { REINSTALLABLE } from "../state/transitions.js";
import { ConfigError } from "./errors.js";

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
}

export async function prepareRun(options: PrepareOptions): Promise<void> {
  const { store, inventory } = options;
  const names = new Set(inventory.hosts.map((host) => host.name));
  for (const name of options.reinstall)
    if (!names.has(name))
      throw new ConfigError(
        `--reinstall ${name}: no host of that name in ${inventory.source} (hosts: ${[...names].join(", ")})`,
      );
  await store.register([...names]);

  for (const name of options.reinstall) {
    if (REINSTALLABLE.includes(store.host(name)!.phase)) await reinstall(store, name);
  }
  const answers = options.installerAnswers ?? ((address: string) => tcpAnswers(address, SSH_PORT));
  for (const name of names) {
    const record = store.host(name)!;
    if (record.phase === "failed") {
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
