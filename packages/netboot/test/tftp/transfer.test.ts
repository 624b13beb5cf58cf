import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  BACKOFF_FACTOR,
  MAX_FIRST_REPLY_RETRANSMITS,
  MAX_RETRANSMITS,
  MAX_RETRANSMIT_INTERVAL_MS,
  READ_AHEAD_BYTES,
  ReadTransfer,
  type BlockSource,
  type TransferTimers,
} from "../../src/tftp/transfer.js";
import { decodeTftp } from "../../src/tftp/decode.js";
import type { TftpDataPacket, TftpOption, TftpPacket } from "../../src/tftp/packet.js";

const TIMEOUT_MS = 1000;

/** Deterministic bytes whose value depends on the position, so misplaced blocks show. */
function pattern(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let index = 0; index < size; index++) bytes[index] = (index * 31 + (index >> 8)) & 0xff;
  return bytes;
}

interface Sent {
  readonly packet: TftpPacket;
  readonly at: number;
}

function harness(
  size: number,
  options: {
    blockSize?: number;
    windowSize?: number;
    acknowledged?: TftpOption[];
    deadlineMs?: number;
  } = {},
) {
  const content = pattern(size);
  const reads: Array<{ position: number; length: number }> = [];
  const source: BlockSource = {
    size,
    read: async (position, length) => {
      reads.push({ position, length });
      return content.subarray(position, position + length);
    },
  };
  const sent: Sent[] = [];
  // Injected timers: the global ones, which vi.useFakeTimers() replaces.
  const timers: TransferTimers = {
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
  const transfer = new ReadTransfer({
    source,
    blockSize: options.blockSize ?? 512,
    windowSize: options.windowSize ?? 1,
    timeoutMs: TIMEOUT_MS,
    acknowledged: options.acknowledged ?? [],
    send: (bytes) => sent.push({ packet: decodeTftp(bytes), at: Date.now() }),
    timers,
    ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
  });
  let finished = false;
  void transfer.done.then(() => (finished = true));
  return { transfer, sent, reads, content, isFinished: () => finished };
}

/** Lets the engine's promise chain (reads, sends) run to rest. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 20; turn++) await Promise.resolve();
}

function dataBlocks(sent: readonly Sent[]): number[] {
  return sent
    .filter((s) => s.packet.type === "DATA")
    .map((s) => (s.packet as TftpDataPacket).block);
}

function ack(transfer: ReadTransfer, block: number): void {
  transfer.receive({ type: "ACK", block });
}

/**
 * An RFC 7440 receiver on a lossless link: takes in-order DATA, acknowledges the last in-order
 * block after each burst, until a short block ends the file. Returns the bytes received.
 */
async function receiveAll(h: ReturnType<typeof harness>, blockSize: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let expected = 1;
  let seen = 0;
  let lastGood = 0;
  let ended = false;
  await settle();
  while (!h.isFinished()) {
    for (; seen < h.sent.length; seen++) {
      const packet = h.sent[seen]?.packet;
      if (packet?.type !== "DATA" || packet.block !== expected) continue;
      chunks.push(packet.data);
      lastGood = packet.block;
      expected = (expected + 1) & 0xffff;
      if (packet.data.length < blockSize) ended = true;
    }
    ack(h.transfer, lastGood);
    await settle();
    if (ended) await settle();
  }
  return Buffer.concat(chunks);
}

describe("ReadTransfer", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends lock-step blocks of blksize and a short last block, then completes on its ACK", async () => {
    const h = harness(1300);
    h.transfer.start();
    await settle();
    expect(dataBlocks(h.sent)).toEqual([1]);
    ack(h.transfer, 1);
    await settle();
    ack(h.transfer, 2);
    await settle();
    const last = h.sent.at(-1)?.packet as TftpDataPacket;
    expect(last.block).toBe(3);
    expect(last.data.length).toBe(1300 - 2 * 512);
    expect(h.isFinished()).toBe(false);
    ack(h.transfer, 3);
    await expect(h.transfer.done).resolves.toEqual({ ok: true, bytes: 1300 });
  });

  it("ends a file whose size is a multiple of blksize with a zero-length block", async () => {
    const h = harness(1024);
    h.transfer.start();
    const received = await receiveAll(h, 512);
    const sizes = h.sent.map((s) => (s.packet as TftpDataPacket).data.length);
    expect(sizes).toEqual([512, 512, 0]);
    expect(received).toEqual(h.content);
  });

  it("sends an empty file as one empty DATA 1", async () => {
    const h = harness(0);
    h.transfer.start();
    await settle();
    expect(h.sent.map((s) => s.packet)).toEqual([
      { type: "DATA", block: 1, data: Buffer.alloc(0) },
    ]);
    ack(h.transfer, 1);
    await expect(h.transfer.done).resolves.toEqual({ ok: true, bytes: 0 });
  });

  it("sends the OACK first and DATA 1 only after ACK 0", async () => {
    const acknowledged = [{ name: "blksize", value: "1024" }];
    const h = harness(3000, { blockSize: 1024, acknowledged });
    h.transfer.start();
    await settle();
    expect(h.sent.map((s) => s.packet)).toEqual([{ type: "OACK", options: acknowledged }]);
    ack(h.transfer, 0);
    await settle();
    expect(dataBlocks(h.sent)).toEqual([1]);
    expect((h.sent[1]?.packet as TftpDataPacket).data.length).toBe(1024);
  });

  it("resends the OACK when ACK 0 does not come", async () => {
    const h = harness(100, { acknowledged: [{ name: "tsize", value: "100" }] });
    h.transfer.start();
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    expect(h.sent.map((s) => s.packet.type)).toEqual(["OACK", "OACK"]);
  });

  it("rolls the block number over from 65535 to 0 and delivers every byte in order", async () => {
    // 65 541 windows of fake-timer bookkeeping are slow; nothing here waits for a timeout.
    vi.useRealTimers();
    const blockSize = 8;
    const h = harness(65_540 * blockSize + 3, { blockSize, windowSize: 16, acknowledged: [] });
    h.transfer.start();
    const received = await receiveAll(h, blockSize);
    const blocks = dataBlocks(h.sent);
    const wrap = blocks.indexOf(65535);
    expect(blocks.slice(wrap, wrap + 3)).toEqual([65535, 0, 1]);
    expect(blocks.length).toBe(65_541);
    // Deep equality over half a megabyte is slow in expect; Buffer.equals is not.
    expect(Buffer.from(received).equals(h.content)).toBe(true);
    await expect(h.transfer.done).resolves.toEqual({ ok: true, bytes: h.content.length });
  });

  it("sends windowsize blocks before waiting, reading the small file with one read", async () => {
    const h = harness(10 * 512 + 7, { windowSize: 4 });
    h.transfer.start();
    await settle();
    expect(dataBlocks(h.sent)).toEqual([1, 2, 3, 4]);
    // READ_AHEAD_BYTES hold the whole file: one read serves every window.
    expect(h.reads).toEqual([{ position: 0, length: 10 * 512 + 7 }]);
    ack(h.transfer, 4);
    await settle();
    expect(dataBlocks(h.sent)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    ack(h.transfer, 8);
    await settle();
    expect(dataBlocks(h.sent).slice(8)).toEqual([9, 10, 11]);
    ack(h.transfer, 11);
    await expect(h.transfer.done).resolves.toEqual({ ok: true, bytes: 10 * 512 + 7 });
  });

  it("resumes from the block after an ACK for an earlier block of the window (RFC 7440 §4)", async () => {
    const h = harness(20 * 512, { windowSize: 4 });
    h.transfer.start();
    await settle();
    ack(h.transfer, 2);
    await settle();
    expect(dataBlocks(h.sent)).toEqual([1, 2, 3, 4, 3, 4, 5, 6]);
    // Resent blocks come from the window already in memory: no byte is read twice.
    const positions = h.reads.flatMap(({ position, length }) =>
      Array.from({ length: length / 512 }, (_, index) => position + index * 512),
    );
    expect(new Set(positions).size).toBe(positions.length);
  });

  it("ignores a duplicate ACK in lock-step mode (no Sorcerer's Apprentice)", async () => {
    const h = harness(5 * 512);
    h.transfer.start();
    await settle();
    ack(h.transfer, 1);
    await settle();
    ack(h.transfer, 1);
    await settle();
    expect(dataBlocks(h.sent)).toEqual([1, 2]);
  });

  it("resends the window once on a duplicate ACK in windowed mode", async () => {
    const h = harness(20 * 512, { windowSize: 3 });
    h.transfer.start();
    await settle();
    ack(h.transfer, 3);
    await settle();
    ack(h.transfer, 3);
    ack(h.transfer, 3);
    await settle();
    expect(dataBlocks(h.sent)).toEqual([1, 2, 3, 4, 5, 6, 4, 5, 6]);
  });

  it("ignores ACKs for blocks of an older window or never sent", async () => {
    const h = harness(20 * 512, { windowSize: 2 });
    h.transfer.start();
    await settle();
    ack(h.transfer, 2);
    await settle();
    ack(h.transfer, 1);
    ack(h.transfer, 9);
    await settle();
    expect(dataBlocks(h.sent)).toEqual([1, 2, 3, 4]);
  });

  it("retransmits with doubling intervals up to the cap, then gives up with an ERROR", async () => {
    const h = harness(5 * 512);
    h.transfer.start();
    await settle();
    ack(h.transfer, 1);
    await settle();
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1);
    expect(dataBlocks(h.sent)).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(10 * MAX_RETRANSMIT_INTERVAL_MS * MAX_RETRANSMITS);
    const resends = h.sent
      .filter((s) => s.packet.type === "DATA" && s.packet.block === 2)
      .map((s) => s.at - start);
    const expected: number[] = [0];
    let interval = TIMEOUT_MS;
    for (let retry = 0; retry < MAX_RETRANSMITS; retry++) {
      expected.push((expected.at(-1) as number) + interval);
      interval = Math.min(interval * BACKOFF_FACTOR, MAX_RETRANSMIT_INTERVAL_MS);
    }
    expect(resends).toEqual(expected);
    expect(h.sent.at(-1)?.packet).toMatchObject({ type: "ERROR", code: 0 });
    const outcome = await h.transfer.done;
    expect(outcome).toMatchObject({ ok: false, bytes: 512 });
    expect(outcome.ok === false && outcome.reason).toMatch(/timed out.*block 2/);
  });

  it("gives up on a first reply never acknowledged after MAX_FIRST_REPLY_RETRANSMITS, releasing its slot in seconds", async () => {
    for (const acknowledged of [[], [{ name: "tsize", value: "2560" }]]) {
      const h = harness(5 * 512, { acknowledged });
      h.transfer.start();
      await settle();
      const start = Date.now();
      await vi.advanceTimersByTimeAsync(10 * MAX_RETRANSMIT_INTERVAL_MS * MAX_RETRANSMITS);
      const firstReplies = h.sent.filter((s) => s.packet.type !== "ERROR");
      expect(firstReplies).toHaveLength(1 + MAX_FIRST_REPLY_RETRANSMITS);
      expect(firstReplies.map((s) => s.at - start)).toEqual([0, TIMEOUT_MS, 3 * TIMEOUT_MS]);
      expect(h.sent.at(-1)?.packet).toMatchObject({ type: "ERROR" });
      expect(h.sent.at(-1)?.at).toBe(start + 7 * TIMEOUT_MS);
      expect(await h.transfer.done).toMatchObject({ ok: false, bytes: 0 });
    }
  });

  it("serves a client slow to acknowledge its first reply with the full retransmission budget after", async () => {
    const h = harness(5 * 512, { acknowledged: [{ name: "blksize", value: "512" }] });
    h.transfer.start();
    await vi.advanceTimersByTimeAsync(3 * TIMEOUT_MS + TIMEOUT_MS / 2);
    ack(h.transfer, 0);
    await settle();
    // Block 1 now stalls: five retransmissions, not two, since the client has shown it listens.
    await vi.advanceTimersByTimeAsync(10 * MAX_RETRANSMIT_INTERVAL_MS * MAX_RETRANSMITS);
    expect(dataBlocks(h.sent)).toEqual(Array<number>(1 + MAX_RETRANSMITS).fill(1));
  });

  it("answers a repeated request with the first reply, at most once per interval, and not after the first ACK", async () => {
    const h = harness(5 * 512, { acknowledged: [{ name: "tsize", value: "2560" }] });
    h.transfer.start();
    await settle();
    h.transfer.repeatFirstReply();
    h.transfer.repeatFirstReply();
    await settle();
    expect(h.sent.map((s) => s.packet.type)).toEqual(["OACK", "OACK"]);
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    h.transfer.repeatFirstReply();
    expect(h.sent.map((s) => s.packet.type)).toEqual(["OACK", "OACK", "OACK", "OACK"]);
    ack(h.transfer, 0);
    await settle();
    h.transfer.repeatFirstReply();
    await settle();
    expect(dataBlocks(h.sent)).toEqual([1]);

    const plain = harness(5 * 512);
    plain.transfer.start();
    await settle();
    plain.transfer.repeatFirstReply();
    await settle();
    expect(dataBlocks(plain.sent)).toEqual([1, 1]);
  });

  it("starts the back-off over after progress", async () => {
    const h = harness(5 * 512);
    h.transfer.start();
    await settle();
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS + 2 * TIMEOUT_MS);
    ack(h.transfer, 1);
    await settle();
    const before = h.sent.length;
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    expect(h.sent.length).toBe(before + 1);
  });

  it("ends without a reply when the client sends an ERROR", async () => {
    const h = harness(5 * 512);
    h.transfer.start();
    await settle();
    h.transfer.receive({ type: "ERROR", code: 8, message: "bad blksize" });
    const outcome = await h.transfer.done;
    expect(outcome).toEqual({
      ok: false,
      bytes: 0,
      reason: "client sent ERROR 8: bad blksize",
      endedByClient: true,
    });
    await vi.advanceTimersByTimeAsync(10 * TIMEOUT_MS);
    expect(h.sent.map((s) => s.packet.type)).toEqual(["DATA"]);
  });

  it("aborts with a fixed ERROR text when the file cannot be read, the cause in the outcome", async () => {
    const sent: TftpPacket[] = [];
    const transfer = new ReadTransfer({
      source: { size: 4096, read: () => Promise.reject(new Error("EIO")) },
      blockSize: 512,
      windowSize: 1,
      timeoutMs: TIMEOUT_MS,
      acknowledged: [],
      send: (bytes) => sent.push(decodeTftp(bytes)),
    });
    transfer.start();
    const outcome = await transfer.done;
    expect(outcome).toMatchObject({ ok: false, reason: "cannot read the file: EIO" });
    expect(sent).toEqual([{ type: "ERROR", code: 0, message: "server error" }]);
  });

  it("ends a transfer at its deadline although the client keeps acknowledging just in time", async () => {
    const deadlineMs = 30_000;
    const h = harness(512 * 1000, { deadlineMs });
    h.transfer.start();
    await settle();
    // An ACK just before each retransmission: progress, so the retransmit limit never trips.
    for (let block = 1; block <= 100 && !h.isFinished(); block++) {
      await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1);
      ack(h.transfer, block);
      await settle();
    }
    const outcome = await h.transfer.done;
    expect(outcome).toMatchObject({ ok: false, reason: expect.stringMatching(/^deadline/) });
    expect(h.sent.at(-1)?.packet).toEqual({
      type: "ERROR",
      code: 0,
      message: "transfer took too long",
    });
    // 30 blocks in 30 s at one per 999 ms: the deadline, not the file's end, stopped it.
    expect(dataBlocks(h.sent).length).toBeLessThanOrEqual(
      Math.ceil(deadlineMs / (TIMEOUT_MS - 1)) + 1,
    );
  });

  it("never reads more than READ_AHEAD_BYTES of a large file at a time, nor a block twice", async () => {
    const size = 100 * 1024 * 1024;
    let largest = 0;
    let bytesRead = 0;
    const transfer = new ReadTransfer({
      source: {
        size,
        read: async (_position, length) => {
          largest = Math.max(largest, length);
          bytesRead += length;
          return new Uint8Array(length);
        },
      },
      blockSize: 1468,
      windowSize: 8,
      timeoutMs: TIMEOUT_MS,
      acknowledged: [],
      send: () => {},
    });
    transfer.start();
    await settle();
    for (let block = 8; block <= 80; block += 8) {
      ack(transfer, block);
      await settle();
    }
    transfer.abort("test over");
    const blocksPerRead = Math.ceil(READ_AHEAD_BYTES / 1468);
    expect(largest).toBe(blocksPerRead * 1468);
    // 88 blocks sent: each block read once, at most one read ahead of the window.
    expect(bytesRead).toBe(3 * blocksPerRead * 1468);
  });
});
