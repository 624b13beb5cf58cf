/** Waiting for a server a test started (dropbear, a fake API) to listen on loopback. */
import { setTimeout as sleep } from "node:timers/promises";
import { acceptsOnLoopback } from "../../src/deploy/ssh-tunnel.js";

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
