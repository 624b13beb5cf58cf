import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NetbootEvents, type NetbootEvent } from "../../src/events.js";
import { createBootHttpServer, type BootHttpServer } from "../../src/http/server.js";
import type { BootDecision, BootPolicy, MachineInfo } from "../../src/policy.js";

const BASE = "http://10.0.0.1:8080";
const MAC = "52:54:00:12:34:56";
/** Sparse: large enough that the client's abort lands mid-body, without using disk space. */
const BIG_FILE_BYTES = 256 * 1024 * 1024;
const KERNEL_BYTES = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

let dir: string;
let kernel: string;
let initrd: string;
let firstStageDir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "netboot-http-"));
  kernel = path.join(dir, "vmlinuz");
  initrd = path.join(dir, "initrd.gz");
  await writeFile(kernel, KERNEL_BYTES);
  await writeFile(initrd, "initrd");
  firstStageDir = path.join(dir, "ipxe");
  await mkdir(firstStageDir);
  await writeFile(path.join(firstStageDir, "undionly.kpxe"), "first stage");
  await writeFile(path.join(dir, "secret"), "not for clients");
  await symlink(path.join(dir, "secret"), path.join(firstStageDir, "escape.efi"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

interface Harness {
  server: BootHttpServer;
  events: NetbootEvent[];
  asked: MachineInfo[];
}

const servers: BootHttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function harness(
  decide: BootPolicy | BootDecision,
  { baseUrl }: { baseUrl?: string } = { baseUrl: BASE },
): Harness {
  const events = new NetbootEvents();
  const seen: NetbootEvent[] = [];
  events.on((event) => seen.push(event));
  const asked: MachineInfo[] = [];
  const policy: BootPolicy = (machine) => {
    asked.push(machine);
    return typeof decide === "function" ? decide(machine) : decide;
  };
  const server = createBootHttpServer({ policy, events, firstStageDir, baseUrl });
  servers.push(server);
  return { server, events: seen, asked };
}

const bootDecision = (): BootDecision => ({
  action: "boot",
  spec: { kernel, initrds: [initrd], cmdline: "console=ttyS0" },
});

/** The path of the first URL in a script line starting with `prefix`. */
function urlIn(script: string, prefix: string): string {
  const line = script.split("\n").find((l) => l.startsWith(prefix)) ?? "";
  const url = line.split(" ").find((word) => word.startsWith(BASE)) ?? "";
  return url.slice(BASE.length);
}

describe("GET /boot/:mac.ipxe", () => {
  it("renders a boot script whose files point at /files/ for a MAC in hyphen upper-case form", async () => {
    const { server, events, asked } = harness(bootDecision());
    const response = await server.app.inject(`/boot/${"52-54-00-12-34-56".toUpperCase()}.ipxe`);
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(response.headers["cache-control"]).toBe("no-store");
    // The requester's address goes to the policy: the installer token is bound to it.
    expect(asked).toEqual([{ mac: MAC, stage: "script", address: "127.0.0.1" }]);
    const script = response.body;
    expect(script.startsWith("#!ipxe\n")).toBe(true);
    expect(urlIn(script, "kernel ")).toMatch(
      /^\/files\/[0-9a-f]{16}\/vmlinuz\?mac=52:54:00:12:34:56$/,
    );
    expect(urlIn(script, "initrd ")).toMatch(/^\/files\/[0-9a-f]{16}\/initrd\.gz\?mac=/);
    expect(script).toContain(" initrd=initrd.gz console=ttyS0 || goto retry");
    expect(events).toMatchObject([{ type: "http.script", mac: MAC, action: "boot" }]);
  });

  it("answers 400 with a clear text for something that is not a MAC", async () => {
    const { server, asked } = harness(bootDecision());
    for (const bad of [
      "/boot/nonsense.ipxe",
      "/boot/52:54:00:12:34:56",
      "/boot/52:54:00:12:34.ipxe",
    ]) {
      const response = await server.app.inject(bad);
      expect(response.statusCode).toBe(400);
      expect(response.body).toContain("is not <MAC>.ipxe");
    }
    expect(asked).toEqual([]);
  });

  it("answers an exit script for a machine that boots locally", async () => {
    const { server, events } = harness({ action: "local" });
    const response = await server.app.inject(`/boot/${MAC}.ipxe`);
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatch(/^#!ipxe\n(#.*\n)+exit\n$/);
    expect(events).toMatchObject([{ type: "http.script", action: "local" }]);
  });

  it("answers 404 with the policy's reason for an ignored machine", async () => {
    const { server, events } = harness({ action: "ignore", reason: "not in the inventory" });
    const response = await server.app.inject(`/boot/${MAC}.ipxe`);
    expect(response.statusCode).toBe(404);
    expect(response.body).toContain("not in the inventory");
    expect(events).toMatchObject([{ type: "http.script", action: "ignore" }]);
  });

  it("answers 500 without the policy's message and emits it as policy.error when the policy throws", async () => {
    const { server, events } = harness(() => {
      throw new Error("state store unavailable");
    });
    const response = await server.app.inject(`/boot/${MAC}.ipxe`);
    expect(response.statusCode).toBe(500);
    expect(response.body).toBe(`the boot policy failed for ${MAC}\n`);
    expect(events).toMatchObject([
      { type: "policy.error", mac: MAC, stage: "script", error: "state store unavailable" },
    ]);
  });

  it("answers 500 without the server path and emits policy.error naming it for a missing kernel", async () => {
    const missing = path.join(dir, "missing-kernel");
    const { server, events } = harness({ action: "boot", spec: { kernel: missing, initrds: [] } });
    const response = await server.app.inject(`/boot/${MAC}.ipxe`);
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain(dir);
    expect(events.map((e) => e.type)).toEqual(["http.script", "policy.error"]);
    expect(events[1]).toMatchObject({ error: expect.stringContaining(missing) });
  });

  it("answers 500 for a command line iPXE would misread, the reason in policy.error", async () => {
    const { server, events } = harness({
      action: "boot",
      spec: { kernel, initrds: [], cmdline: "quiet && shell" },
    });
    const response = await server.app.inject(`/boot/${MAC}.ipxe`);
    expect(response.statusCode).toBe(500);
    expect(events.at(-1)).toMatchObject({
      type: "policy.error",
      error: expect.stringContaining("&&"),
    });
  });

  it("gives two initrds with one file name distinct image names", async () => {
    const other = path.join(dir, "sub");
    await mkdir(other, { recursive: true });
    await writeFile(path.join(other, "initrd.gz"), "second");
    const { server } = harness({
      action: "boot",
      spec: { kernel, initrds: [initrd, path.join(other, "initrd.gz")] },
    });
    const script = (await server.app.inject(`/boot/${MAC}.ipxe`)).body;
    expect(script).toContain(" initrd=initrd.gz initrd=1-initrd.gz ");
    expect(script).toContain("initrd --name 1-initrd.gz ");
  });
});

describe("GET|HEAD /files/:id/:name", () => {
  async function kernelPath(server: BootHttpServer): Promise<string> {
    return urlIn((await server.app.inject(`/boot/${MAC}.ipxe`)).body, "kernel ");
  }

  it("serves only files a rendered script registered", async () => {
    const { server } = harness(bootDecision());
    expect((await server.app.inject("/files/0123456789abcdef/vmlinuz")).statusCode).toBe(404);
    const url = await kernelPath(server);
    const wrongName = url.replace("/vmlinuz", "/secret");
    expect((await server.app.inject(wrongName)).statusCode).toBe(404);
    const response = await server.app.inject(url);
    expect(response.statusCode).toBe(200);
    expect(response.rawPayload.equals(KERNEL_BYTES)).toBe(true);
    expect(response.headers["content-length"]).toBe(String(KERNEL_BYTES.length));
    expect(response.headers["accept-ranges"]).toBe("bytes");
    expect(response.headers.etag).toBeTruthy();
    expect(response.headers["last-modified"]).toBeTruthy();
  });

  it("emits start and end events with the bytes sent and the MAC from the script", async () => {
    const { server, events } = harness(bootDecision());
    const url = await kernelPath(server);
    await server.app.inject(url);
    const fileEvents = events.filter((e) => e.type.startsWith("http.file"));
    expect(fileEvents).toMatchObject([
      { type: "http.file.start", mac: MAC, path: kernel, bytes: 1000, size: 1000 },
      { type: "http.file.end", mac: MAC, path: kernel, status: 200, bytes: 1000, complete: true },
    ]);
  });

  it("answers ranges: the first bytes, a suffix, the whole file for several, 416 past the end", async () => {
    const { server } = harness(bootDecision());
    const url = await kernelPath(server);
    const first = await server.app.inject({ url, headers: { range: "bytes=0-9" } });
    expect(first.statusCode).toBe(206);
    expect(first.headers["content-range"]).toBe("bytes 0-9/1000");
    expect(first.headers["content-length"]).toBe("10");
    expect(first.rawPayload.equals(KERNEL_BYTES.subarray(0, 10))).toBe(true);

    const suffix = await server.app.inject({ url, headers: { range: "bytes=-10" } });
    expect(suffix.statusCode).toBe(206);
    expect(suffix.headers["content-range"]).toBe("bytes 990-999/1000");
    expect(suffix.rawPayload.equals(KERNEL_BYTES.subarray(990))).toBe(true);

    const several = await server.app.inject({ url, headers: { range: "bytes=0-1,5-6" } });
    expect(several.statusCode).toBe(200);
    expect(several.rawPayload.equals(KERNEL_BYTES)).toBe(true);

    const invalid = await server.app.inject({ url, headers: { range: "bytes=1000-" } });
    expect(invalid.statusCode).toBe(416);
    expect(invalid.headers["content-range"]).toBe("bytes */1000");
  });

  it("answers HEAD with Content-Length and no body", async () => {
    const { server, events } = harness(bootDecision());
    const url = await kernelPath(server);
    const response = await server.app.inject({ method: "HEAD", url });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-length"]).toBe("1000");
    expect(response.rawPayload.length).toBe(0);
    expect(events.at(-1)).toMatchObject({ type: "http.file.end", bytes: 0, complete: true });
  });

  it("answers 304 to a conditional request with the current ETag", async () => {
    const { server } = harness(bootDecision());
    const url = await kernelPath(server);
    const { etag } = (await server.app.inject(url)).headers;
    const again = await server.app.inject({ url, headers: { "if-none-match": String(etag) } });
    expect(again.statusCode).toBe(304);
  });
});

describe("GET|HEAD /ipxe/:name", () => {
  it("serves a first-stage binary and refuses paths outside the directory", async () => {
    const { server } = harness(bootDecision());
    const ok = await server.app.inject("/ipxe/undionly.kpxe");
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe("first stage");
    const head = await server.app.inject({ method: "HEAD", url: "/ipxe/undionly.kpxe" });
    expect(head.headers["content-length"]).toBe("11");
    for (const bad of ["/ipxe/escape.efi", "/ipxe/..%2Fsecret", "/ipxe/missing.efi"]) {
      const response = await server.app.inject(bad);
      expect(response.statusCode).toBe(404);
      expect(response.body).not.toContain("not for clients");
    }
  });
});

describe("logging", () => {
  it("writes fastify's request logs to a pino logger given as option", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
    const server = createBootHttpServer({
      policy: () => ({ action: "local" }),
      events: new NetbootEvents(),
      baseUrl: BASE,
      logger,
    });
    servers.push(server);
    await server.app.inject(`/boot/${MAC}.ipxe`);
    expect(lines.some((line) => line.includes(`/boot/${MAC}.ipxe`))).toBe(true);
  });
});

describe("a missing first-stage directory", () => {
  it("answers 500 without the directory and emits server.error naming it", async () => {
    const events = new NetbootEvents();
    const seen: NetbootEvent[] = [];
    events.on((event) => seen.push(event));
    const missing = path.join(dir, "no-such-dir");
    const server = createBootHttpServer({
      policy: () => ({ action: "local" }),
      events,
      firstStageDir: missing,
      baseUrl: BASE,
    });
    servers.push(server);
    const response = await server.app.inject("/ipxe/ipxe.efi");
    expect(response.statusCode).toBe(500);
    expect(response.body).toBe("first stages are unavailable\n");
    expect(seen).toMatchObject([
      { type: "server.error", server: "http", error: expect.stringContaining(missing) },
    ]);
  });
});

describe("listen", () => {
  it("binds, returns the URL, and uses it as the base URL when none was given", async () => {
    const { server } = harness(bootDecision(), {});
    server.app.get("/caller-route", async () => "added by the caller");
    const url = await server.listen({ host: "127.0.0.1", port: 0 });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const script = await (await fetch(`${url}/boot/${MAC}.ipxe`)).text();
    expect(script).toContain(`kernel ${url}/files/`);
    expect(await (await fetch(`${url}/caller-route`)).text()).toBe("added by the caller");
  });

  it("refuses a wildcard address without a base URL", async () => {
    const { server } = harness(bootDecision(), {});
    await expect(server.listen({ host: "0.0.0.0", port: 0 })).rejects.toThrow(/baseUrl/);
  });

  it("reports an incomplete download when the client goes away", async () => {
    const big = path.join(dir, "big.img");
    await writeFile(big, "");
    await truncate(big, BIG_FILE_BYTES);
    const { server, events } = harness(
      { action: "boot", spec: { kernel: big, initrds: [] } },
      // The script's URLs must point at the loopback listener, never at BASE.
      {},
    );
    const base = await server.listen({ host: "127.0.0.1", port: 0 });
    const script = await (await fetch(`${base}/boot/${MAC}.ipxe`)).text();
    const fileUrl =
      script
        .split("\n")
        .find((l) => l.startsWith("kernel "))
        ?.split(" ")[1] ?? "";
    const ended = new Promise<NetbootEvent>((resolve) => {
      const timer = setInterval(() => {
        const end = events.find((e) => e.type === "http.file.end");
        if (end) {
          clearInterval(timer);
          resolve(end);
        }
      }, 20);
    });
    await new Promise<void>((resolve) => {
      const req = httpRequest(fileUrl, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.end();
    });
    const end = await ended;
    expect(end).toMatchObject({ type: "http.file.end", status: 200, complete: false });
    expect(end.type === "http.file.end" && end.bytes).toBeLessThan(BIG_FILE_BYTES);
  });
});
