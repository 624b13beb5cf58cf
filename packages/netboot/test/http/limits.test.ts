/**
 * The boot HTTP server's limits on loopback, with small values so each cut comes in a second or
 * two. The same attacks against `netboot serve` with its default limits run in
 * test/hostile.netns.test.ts.
 */
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NetbootEvents, type NetbootEvent } from "../../src/events.js";
import {
  createBootHttpServer,
  type BootHttpServer,
  type HttpLimits,
} from "../../src/http/server.js";

const MAC = "52:54:00:12:34:56";
/** Sparse, and far above what loopback socket buffers absorb from a client that never reads. */
const BIG_FILE_BYTES = 512 * 1024 * 1024;
/** How long a test waits for the server to act before calling the defence missing. */
const CUT_WITHIN_MS = 5_000;

let dir: string;
let initrd: string;
const servers: BootHttpServer[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "netboot-limits-"));
  initrd = path.join(dir, "initrd");
  await writeFile(initrd, "");
  await truncate(initrd, BIG_FILE_BYTES);
  await writeFile(path.join(dir, "vmlinuz"), "kernel");
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function start(limits: Partial<HttpLimits>) {
  const events = new NetbootEvents();
  const seen: NetbootEvent[] = [];
  events.on((event) => seen.push(event));
  const server = createBootHttpServer({
    policy: () => ({
      action: "boot",
      spec: { kernel: path.join(dir, "vmlinuz"), initrds: [initrd] },
    }),
    events,
    limits,
  });
  servers.push(server);
  // A route a caller adds, as metal adds its callback API: the limits must hold for it too.
  server.app.post("/callback", { bodyLimit: 1024 }, async (request) => ({ got: request.body }));
  const url = new URL(await server.listen({ host: "127.0.0.1", port: 0 }));
  return { server, url, seen };
}

/** A raw connection; resolves `closed` with the time the server ended it and what it sent. */
function open(url: URL) {
  const socket = connect(Number(url.port), url.hostname);
  sockets.push(socket);
  const openedAt = Date.now();
  let received = "";
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  socket.on("error", () => undefined);
  const closed = new Promise<{ afterMs: number; received: string }>((resolve) =>
    socket.once("close", () => resolve({ afterMs: Date.now() - openedAt, received })),
  );
  return { socket, closed };
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | "still open"> {
  return Promise.race([
    promise,
    new Promise<"still open">((resolve) => setTimeout(() => resolve("still open"), ms)),
  ]);
}

describe("boot HTTP server limits", { timeout: 20_000 }, () => {
  it("cuts a request body trickled to a caller's route after requestTimeout", async () => {
    const { url } = await start({ requestTimeoutMs: 1_000, connectionTimeoutMs: 60_000 });
    const { socket, closed } = open(url);
    socket.write(
      "POST /callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    );
    // One byte every 300 ms: never idle long enough for the idle timeout.
    const trickle = setInterval(() => socket.write(" "), 300);
    const outcome = await within(closed, CUT_WITHIN_MS);
    clearInterval(trickle);
    expect(outcome).not.toBe("still open");
    expect(outcome).toMatchObject({ received: expect.stringMatching(/^HTTP\/1\.1 408/) });
  });

  it("cuts headers sent one line at a time after headersTimeout", async () => {
    const { url } = await start({ headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    const { socket, closed } = open(url);
    socket.write(`GET /boot/${MAC}.ipxe HTTP/1.1\r\n`);
    let line = 0;
    const drip = setInterval(() => socket.write(`X-Drip-${line++}: y\r\n`), 200);
    const outcome = await within(closed, CUT_WITHIN_MS);
    clearInterval(drip);
    expect(outcome).not.toBe("still open");
    expect(outcome).toMatchObject({ received: expect.stringMatching(/^HTTP\/1\.1 408/) });
  });

  it("answers a header block above 16 KiB with 431", async () => {
    const { url } = await start({});
    const { socket, closed } = open(url);
    socket.write(
      `GET /boot/${MAC}.ipxe HTTP/1.1\r\nHost: x\r\nX-Flood: ${"a".repeat(20_000)}\r\n\r\n`,
    );
    const outcome = await within(closed, CUT_WITHIN_MS);
    expect(outcome).toMatchObject({ received: expect.stringMatching(/^HTTP\/1\.1 431/) });
  });

  it("refuses a body above the caller's route limit with 413 and no server detail", async () => {
    const { url } = await start({});
    const response = await fetch(new URL("/callback", url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ padding: "x".repeat(4096) }),
    });
    expect(response.status).toBe(413);
    expect(await response.text()).toBe("Payload Too Large\n");
  });

  it("closes connections above the per-address cap at once and keeps the others", async () => {
    const { url, seen } = await start({ maxConnectionsPerAddress: 2 });
    const kept = [open(url), open(url)];
    const refused = open(url);
    expect(await within(refused.closed, CUT_WITHIN_MS)).toMatchObject({ received: "" });
    const response = await fetch(new URL(`/boot/${MAC}.ipxe`, url)).catch(() => undefined);
    // fetch is a third connection from the same address: refused as well.
    expect(response).toBeUndefined();
    for (const { closed } of kept) expect(await within(closed, 200)).toBe("still open");
    expect(seen.some((e) => e.type === "server.error" && /limit 2 per address/.test(e.error))).toBe(
      true,
    );
  });

  it("cuts a download whose client stops reading after writeTimeout, releasing the file", async () => {
    const { server, url, seen } = await start({ writeTimeoutMs: 1_000 });
    const script = await server.app.inject(`/boot/${MAC}.ipxe`);
    const initrdPath = /initrd --name \S+ http:\/\/[^/]+(\/files\/\S+)/.exec(script.body)?.[1];
    expect(initrdPath).toBeDefined();
    const { socket, closed } = open(url);
    socket.write(`GET ${initrdPath} HTTP/1.1\r\nHost: x\r\n\r\n`);
    // A paused socket reads nothing, so it cannot see the server's close: watch the server.
    socket.pause();
    await expect
      .poll(() => seen.find((e) => e.type === "http.file.end"), { timeout: CUT_WITHIN_MS })
      .toMatchObject({ complete: false });
    // The response's close (http.file.end) comes first; the pump reports why once its file is shut.
    await expect
      .poll(() => seen.some((e) => e.type === "server.error" && /took no bytes/.test(e.error)), {
        timeout: CUT_WITHIN_MS,
      })
      .toBe(true);
    socket.resume();
    const outcome = await within(closed, CUT_WITHIN_MS);
    expect(outcome).not.toBe("still open");
    expect((outcome as { received: string }).received.length).toBeLessThan(BIG_FILE_BYTES);
  });

  it("answers an unknown route with a fixed 404 that does not repeat the URL", async () => {
    const { server } = await start({});
    const response = await server.app.inject("/no/such/route/%1b[31mred");
    expect(response.statusCode).toBe(404);
    expect(response.body).toBe("not found\n");
  });
});
