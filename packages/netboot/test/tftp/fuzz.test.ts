import { createHash, randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TftpDecodeError } from "../../src/errors.js";
import { decodeTftp } from "../../src/tftp/decode.js";
import { encodeTftp } from "../../src/tftp/encode.js";
import type { TftpPacket } from "../../src/tftp/packet.js";
import { TftpServer } from "../../src/tftp/server.js";
import { fuzzDecoder, fuzzSettings, seededRandom } from "../support/fuzz.js";
import { tftpGet } from "./client.js";

const FUZZ = fuzzSettings(Date.now() % 2 ** 31);
const STORM_PACKETS = Math.max(2_000, Math.floor(FUZZ.iterations / 20));
const SEED = FUZZ.seed;
const MAX_RANDOM_LENGTH = 600;

const CORPUS: TftpPacket[] = [
  { type: "RRQ", filename: "ipxe.efi", mode: "octet", options: [] },
  {
    type: "RRQ",
    filename: "boot/undionly.kpxe",
    mode: "octet",
    options: [
      { name: "blksize", value: "1468" },
      { name: "tsize", value: "0" },
      { name: "windowsize", value: "16" },
      { name: "timeout", value: "2" },
    ],
  },
  { type: "WRQ", filename: "up.bin", mode: "netascii", options: [] },
  { type: "DATA", block: 1, data: Buffer.from("payload") },
  { type: "ACK", block: 65535 },
  { type: "ERROR", code: 8, message: "refused" },
  { type: "OACK", options: [{ name: "blksize", value: "512" }] },
];
const SEEDS = CORPUS.map((packet) => encodeTftp(packet));

/** Random bytes, or a corpus packet with bytes flipped, cut, repeated or NULs inserted. */
function fuzzPacket(random: () => number): Buffer {
  const pick = (n: number) => Math.floor(random() * n);
  if (random() < 0.3) {
    const bytes = Buffer.alloc(pick(MAX_RANDOM_LENGTH));
    for (let index = 0; index < bytes.length; index++) bytes[index] = pick(256);
    // Keep many of them near-valid: a real opcode in front reaches deeper into the parser.
    if (bytes.length >= 2 && random() < 0.7) bytes.writeUInt16BE(pick(8), 0);
    return bytes;
  }
  let bytes = Buffer.from(SEEDS[pick(SEEDS.length)] as Buffer);
  const mutations = 1 + pick(4);
  for (let step = 0; step < mutations; step++) {
    const at = pick(bytes.length + 1);
    switch (pick(5)) {
      case 0:
        if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] = pick(256);
        break;
      case 1:
        bytes = bytes.subarray(0, at);
        break;
      case 2:
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([0]), bytes.subarray(at)]);
        break;
      case 3:
        bytes = Buffer.concat([bytes, bytes.subarray(at)]);
        break;
      case 4:
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + pick(8))]);
        break;
    }
  }
  return bytes;
}

describe(`TFTP fuzz (seed ${SEED}, FUZZ_SEED to replay)`, () => {
  it(`decodes ${FUZZ.iterations} random and mutated packets, throwing only TftpDecodeError`, () => {
    const { decoded, refused } = fuzzDecoder({
      settings: FUZZ,
      generate: fuzzPacket,
      exercise: (bytes) => {
        const packet = decodeTftp(bytes);
        // Whatever decodes must frame again to bytes that decode to the same packet.
        const framed = encodeTftp(packet);
        if (!encodeTftp(decodeTftp(framed)).equals(framed)) {
          throw new Error(`round trip changed ${bytes.toString("hex")}`);
        }
      },
      typedError: TftpDecodeError,
    });
    expect(decoded + refused).toBe(FUZZ.iterations);
    // Both outcomes must be exercised, or the generator is not doing its job.
    expect(decoded).toBeGreaterThan(FUZZ.iterations / 20);
    expect(refused).toBeGreaterThan(FUZZ.iterations / 20);
  }, 120_000);

  describe("bad-packet storm at a running server", () => {
    let root: string;
    const content = randomBytes(100_000);
    beforeAll(async () => {
      root = await mkdtemp(path.join(tmpdir(), "tftp-fuzz-"));
      await writeFile(path.join(root, "ipxe.efi"), content);
      await writeFile(path.join(root, "undionly.kpxe"), content.subarray(0, 999));
    });
    afterAll(() => rm(root, { recursive: true, force: true }));

    it(`survives ${STORM_PACKETS} bad packets and then still serves a file`, async () => {
      // Short timeouts so transfers the storm happens to start do not hold their slots long.
      const server = new TftpServer({
        root,
        address: "127.0.0.1",
        port: 0,
        timeoutMs: 50,
        maxRetransmits: 1,
      });
      const serverErrors: string[] = [];
      server.events.on((event) => event.type === "server.error" && serverErrors.push(event.error));
      const address = await server.start();
      try {
        const storm = dgram.createSocket("udp4");
        await new Promise<void>((resolve) => storm.bind(0, "127.0.0.1", resolve));
        const random = seededRandom(SEED ^ 0x5a5a5a5a);
        for (let sent = 0; sent < STORM_PACKETS; sent++) {
          await new Promise<void>((resolve) =>
            storm.send(fuzzPacket(random), address.port, address.address, () => resolve()),
          );
          // Let the server read between sends: a storm faster than one socket drains only
          // measures the kernel's receive buffer.
          await new Promise((resolve) => setImmediate(resolve));
        }
        storm.close();
        await expect.poll(() => server.activeTransfers, { timeout: 10_000 }).toBe(0);
        const result = await tftpGet(address, "ipxe.efi", {
          options: [{ name: "blksize", value: "1024" }],
        });
        const digest = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
        expect(digest(result.data)).toBe(digest(content));
        expect(serverErrors).toEqual([]);
      } finally {
        await server.close();
      }
    }, 120_000);

    it(`survives ${STORM_PACKETS} bad packets on a transfer's own port from its client`, async () => {
      const server = new TftpServer({ root, address: "127.0.0.1", port: 0 });
      const serverErrors: string[] = [];
      server.events.on((event) => event.type === "server.error" && serverErrors.push(event.error));
      const address = await server.start();
      const client = dgram.createSocket("udp4");
      try {
        await new Promise<void>((resolve) => client.bind(0, "127.0.0.1", resolve));
        const transferPort = new Promise<number>((resolve) =>
          client.once("message", (_bytes, from) => resolve(from.port)),
        );
        const request = encodeTftp({
          type: "RRQ",
          filename: "ipxe.efi",
          mode: "octet",
          options: [{ name: "windowsize", value: "4" }],
        });
        client.send(request, address.port, address.address);
        const port = await transferPort;
        // From the client's own TID, so every packet reaches the transfer engine.
        const random = seededRandom(SEED ^ 0x3c3c3c3c);
        for (let sent = 0; sent < STORM_PACKETS; sent++) {
          await new Promise<void>((resolve) =>
            client.send(fuzzPacket(random), port, address.address, () => resolve()),
          );
          await new Promise((resolve) => setImmediate(resolve));
        }
        const result = await tftpGet(address, "undionly.kpxe");
        expect(result.data.length).toBe(999);
        expect(serverErrors).toEqual([]);
      } finally {
        client.close();
        await server.close();
      }
      expect(server.activeTransfers).toBe(0);
    }, 120_000);
  });
});
