import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pumpFileRange, type ByteRange } from "../../src/http/file-pump.js";

const CONTENT = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7) % 256));
const WRITE_TIMEOUT_MS = 10_000;
let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "netboot-pump-"));
  file = path.join(dir, "data.bin");
  await writeFile(file, CONTENT);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Serves `range` of the file with `chunkBytes` chunks; resolves what the client and server saw. */
async function transfer(range: ByteRange, chunkBytes: number) {
  let sent = 0;
  let failure: unknown;
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, { "content-length": range.length });
    pumpFileRange(response, file, range, {
      chunkBytes,
      writeTimeoutMs: WRITE_TIMEOUT_MS,
      onSent: (bytes) => (sent += bytes),
    }).catch((error) => {
      failure = error;
      response.destroy();
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const received = await new Promise<Buffer>((resolve) => {
      get(`http://127.0.0.1:${port}/`, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve(Buffer.concat(chunks)));
        response.on("error", () => resolve(Buffer.concat(chunks)));
      }).on("error", () => resolve(Buffer.alloc(0)));
    });
    return { received, sent, failure };
  } finally {
    server.close();
  }
}

describe("pumpFileRange", () => {
  it("copies a range through chunks smaller than the range, byte for byte", async () => {
    const { received, sent, failure } = await transfer({ start: 123, length: 9000 }, 1000);
    expect(failure).toBeUndefined();
    expect(received.equals(CONTENT.subarray(123, 9123))).toBe(true);
    expect(sent).toBe(9000);
  });

  it("fails, and the client gets a short body, when the file is shorter than announced", async () => {
    const { received, failure } = await transfer({ start: 0, length: CONTENT.length + 5000 }, 4096);
    expect(String(failure)).toContain(`ended at byte ${CONTENT.length}`);
    // Cutting the connection may drop what was still queued: a prefix, never more.
    expect(received.length).toBeLessThanOrEqual(CONTENT.length);
    expect(received.equals(CONTENT.subarray(0, received.length))).toBe(true);
  });

  it("ends an empty range at once", async () => {
    const { received, sent } = await transfer({ start: 0, length: 0 }, 4096);
    expect(received.length).toBe(0);
    expect(sent).toBe(0);
  });
});
