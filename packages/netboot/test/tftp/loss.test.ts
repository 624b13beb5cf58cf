import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUdpRelay } from "../../../lab/src/udp-relay.js";
import { TftpServer, type TftpServerAddress } from "../../src/tftp/server.js";
import { tftpGet } from "./client.js";

const LOSS = 0.05;
const SEED = 20_261_125;
const content = randomBytes(200_000);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A seeded PRNG (mulberry32), so the dropped packets are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

let root: string;
let server: TftpServer;
let address: TftpServerAddress;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "tftp-loss-"));
  await writeFile(path.join(root, "ipxe.efi"), content);
  // Short retransmission interval so lost packets cost milliseconds, not seconds.
  server = new TftpServer({
    root,
    address: "127.0.0.1",
    port: 0,
    timeoutMs: 30,
    maxRetransmits: 10,
  });
  address = await server.start();
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe(`TftpServer through a relay dropping ${LOSS * 100} % of packets each way`, () => {
  it.each([
    ["lock-step at blksize 512", []],
    [
      "windowsize 8 at blksize 1024",
      [
        { name: "blksize", value: "1024" },
        { name: "windowsize", value: "8" },
      ],
    ],
    [
      "windowsize 64 at blksize 1468",
      [
        { name: "blksize", value: "1468" },
        { name: "windowsize", value: "64" },
      ],
    ],
  ])(
    "delivers every byte %s",
    async (_name, options) => {
      const relay = await startUdpRelay(address, { delayMs: 0, loss: LOSS, random: seeded(SEED) });
      try {
        const result = await tftpGet({ address: address.address, port: relay.port }, "ipxe.efi", {
          options,
          timeoutMs: 60_000,
        });
        expect(result.error).toBeUndefined();
        expect(sha256(result.data)).toBe(sha256(content));
      } finally {
        await relay.close();
      }
    },
    90_000,
  );
});
