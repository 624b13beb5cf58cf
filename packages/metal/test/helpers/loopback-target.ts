/** SSH targets on this machine's loopback: the host record that points at one, and waiting for it to listen. */
import { setTimeout as sleep } from "node:timers/promises";
import { execa, type ResultPromise } from "execa";
import { acceptsOnLoopback } from "../../src/deploy/ssh-tunnel.js";
import type { Host } from "../../src/inventory/types.js";

const LISTEN_POLL_MS = 50;
const MAX_LISTEN_POLLS = 100;

/**
 * Resolves once 127.0.0.1:`port` accepts a connection, or after MAX_LISTEN_POLLS tries; a server
 * that never listens then fails the test at its first use, with that use's error.
 */
async function untilLoopbackAccepts(port: number): Promise<void> {
  for (let poll = 0; poll < MAX_LISTEN_POLLS && !(await acceptsOnLoopback(port)); poll++)
    await sleep(LISTEN_POLL_MS);
}

/** An inventory host whose SSH target is 127.0.0.1: a dropbear the test runs in its own mount namespace. */
export function loopbackHost(name: string, fields: Partial<Host> = {}): Host {
  return {
    name,
    mac: "52:54:00:00:00:01",
    address: "127.0.0.1",
    prefixLength: 8,
    role: "agent",
    init: false,
    disk: "/dev/vda",
    arch: "x86_64",
    firstStage: undefined,
    rootSize: "64G",
    interface: undefined,
    ...fields,
  };
}

export interface LoopbackDropbear {
  readonly port: number;
  readonly hostKey: string;
  /** Shell commands run first inside the private mount namespace (`mount --bind HOME /root`…). */
  readonly mounts: readonly string[];
  readonly pidFile?: string;
}

/**
 * dropbear in the foreground on 127.0.0.1:`port`, in its own mount namespace (unshare --mount,
 * private propagation), so the bind mounts it needs never touch the machine's own /root or /nix.
 * Resolves once it accepts connections, with the process in an object: a ResultPromise itself
 * would be awaited to its exit.
 */
export async function startLoopbackDropbear(
  options: LoopbackDropbear,
): Promise<{ readonly dropbear: ResultPromise }> {
  const pidFile = options.pidFile === undefined ? "" : ` -P "${options.pidFile}"`;
  const dropbear = execa(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      `${options.mounts.join(" && ")} && exec dropbear -F -E -s -p 127.0.0.1:${options.port} -r "${options.hostKey}"${pidFile}`,
    ],
    { reject: false },
  );
  await untilLoopbackAccepts(options.port);
  return { dropbear };
}
