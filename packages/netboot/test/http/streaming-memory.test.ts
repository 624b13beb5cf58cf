import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { once } from "node:events";
import { get } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const GIB = 1024 * 1024 * 1024;
const MIB = 1024 * 1024;
/** Generous: buffers are a few MiB; growing with the file would mean hundreds. */
const MAX_RSS_GROWTH = 100 * MIB;
const WARMUP_BYTES = 16 * MIB;
const SERVER = fileURLToPath(new URL("./fixtures/serve-one-file.mjs", import.meta.url));
const LIBRARY = fileURLToPath(new URL("../../src/index.ts", import.meta.url));

/** A /proc/PID/status field in bytes (the kernel reports kB). */
function procStatusBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1];
  if (kib === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(kib) * 1024;
}

function download(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ contentLength: number; received: number }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (response) => {
      let received = 0;
      response.on("data", (chunk: Buffer) => (received += chunk.length));
      response.on("end", () =>
        resolve({ contentLength: Number(response.headers["content-length"]), received }),
      );
      response.on("error", reject);
    }).on("error", reject);
  });
}

describe("file streaming", () => {
  let dir: string | undefined;
  let child: ChildProcess | undefined;
  afterAll(async () => {
    child?.kill("SIGKILL");
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("serves a 1 GiB file with its Content-Length without the server's memory growing with it", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "netboot-stream-"));
    const file = path.join(dir, "initrd.img");
    await writeFile(file, "");
    await truncate(file, GIB);
    const server = spawn(process.execPath, ["--import", "tsx", SERVER, LIBRARY, file], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    child = server;
    const [line] = (await once(createInterface({ input: server.stdout! }), "line")) as [string];
    const { pid, fileUrl } = JSON.parse(line) as { pid: number; fileUrl: string };

    // Warm up (JIT, first stream, socket buffers) before taking the baseline.
    await download(fileUrl, { range: `bytes=0-${WARMUP_BYTES - 1}` });
    const baseline = procStatusBytes(pid, "VmRSS");
    const { contentLength, received } = await download(fileUrl);
    const peak = procStatusBytes(pid, "VmHWM");

    expect(contentLength).toBe(GIB);
    expect(received).toBe(GIB);
    expect(peak - baseline).toBeLessThan(MAX_RSS_GROWTH);
  }, 120_000);
});
