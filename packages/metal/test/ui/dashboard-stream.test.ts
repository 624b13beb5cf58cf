/**
 * The dashboard's live feed under load and attack: thousands of unknown machines, a client that
 * stops reading, and requests through a rebound DNS name.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { connect } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { UnknownMachine } from "../../src/state/types.js";
import type { DashboardSnapshot, UnknownMachineSource } from "../../src/ui/dashboard-model.js";
import { startDashboard, type RunningDashboard } from "../../src/ui/dashboard.js";
import { fixture, type Fixture } from "../helpers.js";

const UNKNOWN_MACHINES = 2000;
/** The whole list is ~330 KB as JSON; every sighting re-sending it cost 581 MB before. */
const MAX_FEED_BYTES_FOR_2000_SIGHTINGS = 2 * 1024 * 1024;
/** Generous: the test process pumps, serves and reads the fast client on one busy event loop. */
const SLOW_CLIENT_MS = 2_000;
/** Enough rounds to fill the kernel buffers of a reader that stopped (a few MiB), then some. */
const PUMP_ROUNDS = 30;

/** An in-memory table of unknown machines, like the capped one the servers keep. */
class MemoryUnknownMachines implements UnknownMachineSource {
  readonly #machines = new Map<string, UnknownMachine>();
  readonly #listeners = new Set<() => void>();
  list(): readonly UnknownMachine[] {
    return [...this.#machines.values()];
  }
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  see(mac: string, now: number): void {
    const previous = this.#machines.get(mac);
    this.#machines.set(mac, {
      mac,
      firstSeen: previous?.firstSeen ?? now,
      lastSeen: now,
      count: (previous?.count ?? 0) + 1,
    });
    for (const listener of this.#listeners) listener();
  }
  forget(mac: string): void {
    this.#machines.delete(mac);
    for (const listener of this.#listeners) listener();
  }
}

function macOf(index: number): string {
  return `02:00:00:00:${((index >> 8) & 0xff).toString(16).padStart(2, "0")}:${(index & 0xff).toString(16).padStart(2, "0")}`;
}

/**
 * Reads server-sent events until `done` says so; returns the text (or its last `keep`
 * characters, for feeds too big to search whole on every chunk) and its size in bytes.
 */
async function readFeed(
  url: URL,
  done: (text: string) => boolean,
  keep = Infinity,
): Promise<{ text: string; bytes: number }> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  while (!done(text)) {
    const chunk = await reader.read();
    if (chunk.done) throw new Error("feed ended");
    bytes += chunk.value.byteLength;
    text += decoder.decode(chunk.value, { stream: true });
    if (text.length > keep) text = text.slice(-keep);
  }
  controller.abort();
  return { text, bytes };
}

function getWithHost(url: URL, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: url.hostname, port: url.port, path: url.pathname, headers: { host }, setHost: false },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
        if (url.pathname.endsWith("events")) outgoing.destroy();
      },
    );
    outgoing.on("error", (error) => (outgoing.destroyed ? undefined : reject(error)));
    outgoing.end();
  });
}

describe("the dashboard's live feed", () => {
  let env: Fixture;
  let dashboard: RunningDashboard;
  const unknown = new MemoryUnknownMachines();

  beforeEach(async () => {
    env = await fixture();
    dashboard = await startDashboard({
      port: 0,
      inventory: env.inventory,
      store: env.store,
      unknownMachines: unknown,
      unknownRefreshMs: 20,
      heartbeatMs: 50,
      stream: { coalesceMs: 10, slowClientMs: SLOW_CLIENT_MS },
    });
  });
  afterEach(async () => {
    await dashboard.close();
    await env.cleanup();
  });

  it("sends 2000 sightings of unknown machines as deltas, a few bytes each, not the whole list each time", async () => {
    const feed = readFeed(
      new URL("events", dashboard.url),
      (text) =>
        text.includes(`"mac":"${macOf(UNKNOWN_MACHINES - 1)}"`) &&
        text.includes('"removed":["02:00:00:00:00:00"]'),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (let index = 0; index < UNKNOWN_MACHINES; index++) {
      unknown.see(macOf(index), 1_000 + index);
      if (index % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    unknown.forget(macOf(0));
    const { text, bytes } = await feed;
    console.info(`feed bytes for ${UNKNOWN_MACHINES} unknown machines: ${bytes}`);
    expect(bytes).toBeLessThan(MAX_FEED_BYTES_FOR_2000_SIGHTINGS);
    // Every machine arrived, each in few messages (coalesced), none of them twice per message.
    const sent = new Set(text.match(/"mac":"02:00:00:00:[0-9a-f:]+"/g));
    expect(sent.size).toBe(UNKNOWN_MACHINES);
    // A second sighting of one machine sends that machine alone, its snippet unchanged.
    const snapshot = async () =>
      (await (await fetch(new URL("api/snapshot", dashboard.url))).json()) as DashboardSnapshot;
    const before = await snapshot();
    const again = readFeed(new URL("events", dashboard.url), (text) => text.includes('"count":2'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    unknown.see(macOf(5), 9_999_999);
    const delta = (await again).text.split("event: unknown\n").at(-1)!;
    expect(delta.match(/"mac":/g)).toHaveLength(1);
    const after = await snapshot();
    const snippetOf = (view: DashboardSnapshot, mac: string) =>
      view.unknownMachines.find((machine) => machine.mac === mac)?.snippet;
    expect(snippetOf(after, macOf(5))).toBe(snippetOf(before, macOf(5)));
    expect(snippetOf(after, macOf(6))).toBe(snippetOf(before, macOf(6)));
  }, 60_000);

  it("disconnects a client that stops reading, and keeps serving the others", async () => {
    const url = new URL("events", dashboard.url);
    const slow = connect(Number(url.port), url.hostname);
    await new Promise((resolve) => slow.once("connect", resolve));
    slow.write(`GET /events HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
    slow.pause();
    let closed = false;
    slow.once("close", () => (closed = true));
    // The well-behaved reader is its own process (curl), as a browser would be: this test's
    // event loop is busy pumping.
    const fastFile = join(env.directory, "fast-feed.txt");
    const fast = spawn("curl", ["-sN", "-o", fastFile, url.href], { stdio: "ignore" });
    // Every round sees all 2000 machines again: each flush carries the whole list as changed
    // entries (~0.6 MB), far more than the kernel buffers of a reader that stopped can hold.
    for (let round = 1; round <= PUMP_ROUNDS; round++) {
      for (let index = 0; index < UNKNOWN_MACHINES; index++) unknown.see(macOf(index), round);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    await new Promise((resolve) => setTimeout(resolve, SLOW_CLIENT_MS * 2));
    expect(await readFile(fastFile, "utf8")).toContain(`"count":${PUMP_ROUNDS}`);
    expect(fast.exitCode).toBeNull(); // still connected
    fast.kill();
    // Reading again, the slow client gets what the kernel had buffered, then the end: the
    // server dropped it. A client still subscribed would get heartbeats forever instead.
    let received = 0;
    slow.on("data", (chunk: Buffer) => (received += chunk.length));
    slow.resume();
    for (let waited = 0; !closed && waited < 5_000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    console.info(`slow client: dropped after ${received} bytes of ${PUMP_ROUNDS} rounds`);
    expect(closed).toBe(true);
  }, 60_000);

  it("answers only requests that name it by its own address (DNS rebinding)", async () => {
    const url = new URL(dashboard.url);
    for (const path of ["", "events", "api/snapshot", "metrics", "dashboard.js"]) {
      const target = new URL(path, url);
      expect(await getWithHost(target, `evil.example:${url.port}`)).toBe(403);
      expect(await getWithHost(target, `metal.local:${url.port}`)).toBe(403);
      expect(await getWithHost(target, `127.0.0.1.evil.example:${url.port}`)).toBe(403);
      expect(await getWithHost(target, "")).toBe(403);
      expect(await getWithHost(target, url.host)).toBe(200);
      // An SSH tunnel from another local port arrives with a loopback name.
      expect(await getWithHost(target, "localhost:9000")).toBe(200);
    }
  });
});
