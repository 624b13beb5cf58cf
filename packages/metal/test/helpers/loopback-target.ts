/** SSH targets on this machine's loopback: the host record that points at one, and waiting for it to listen. */
import { setTimeout as sleep } from "node:timers/promises";
import { acceptsOnLoopback } from "../../src/deploy/ssh-tunnel.js";
import type { Host } from "../../src/inventory/types.js";

const LISTEN_POLL_MS = 50;
const MAX_LISTEN_POLLS = 100;

/**
 * Resolves once 127.0.0.1:`port` accepts a connection, or after MAX_LISTEN_POLLS tries; a server
 * that never listens then fails the test at its first use, with that use's error.
 */
export async function untilLoopbackAccepts(port: number): Promise<void> {
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
