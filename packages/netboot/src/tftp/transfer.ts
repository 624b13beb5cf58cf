/**
 * The sending side of one read transfer, as a state machine with no sockets: packets come in
 * through `receive`, packets go out through the `send` callback, time comes from injectable
 * timers, file bytes from a `BlockSource` read a window at a time (never the whole file).
 *
 * - RFC 2347: with acknowledged options, an OACK goes first and DATA starts after ACK 0.
 * - RFC 7440: up to `windowSize` blocks are sent before waiting for an ACK; an ACK for an
 *   earlier block of the window resumes from the block after it (§4).
 * - Block numbers are 16 bits on the wire and roll over to 0 after 65535 (no RFC says so; it is
 *   what tftp-hpa, dnsmasq, atftp and curl do), so files above 32 MiB work at blksize 512.
 * - The last block is shorter than `blockSize`; a size that is a multiple of it ends with an
 *   empty block (RFC 1350 §6).
 * - A timeout resends the unacknowledged window, with the interval doubling up to a cap, at most
 *   MAX_RETRANSMITS times; the first reply (OACK or DATA 1) only MAX_FIRST_REPLY_RETRANSMITS
 *   times, because nothing yet shows anyone listens there (see that constant). A duplicate ACK never triggers a resend in lock-step mode (RFC 1123
 *   §4.2.3.1, the Sorcerer's Apprentice bug); in windowed mode it resends the window once.
 * - An absolute deadline ends the transfer however it progresses: a client that ACKs one block
 *   just before each timeout would otherwise hold its slot for as long as it likes.
 * - ERROR packets carry fixed texts (TftpErrorText); the reason with its details goes only into
 *   the outcome.
 */
import { encodeData, encodeError, encodeOack } from "./encode.js";
import {
  MAX_UINT16,
  TftpErrorCode,
  TftpErrorText,
  type TftpErrorTextValue,
  type TftpOption,
  type TftpPacket,
} from "./packet.js";

/** Timeouts without progress before the transfer gives up. */
export const MAX_RETRANSMITS = 5;
/**
 * Retransmissions of the first reply (OACK, or DATA 1 without options) before the transfer gives
 * up. Until its first ACK the client has not shown it listens on that port: a request repeated
 * or delayed after the client went away (edk2 closes its port after the ERROR 8 that ends its
 * tsize probe) or an ERROR lost on the way would otherwise hold a transfer slot through all
 * MAX_RETRANSMITS (1+2+4+8+8+8 = 31 s). A live client repeats its request until it hears from
 * us (RFC 1350 §4: the requester retransmits; edk2 every PXEBC_MTFTP_TIMEOUT = 4 s, iPXE and
 * tftp-hpa every second), and a repeat makes the transfer resend its first reply
 * (`repeatFirstReply`); once given up, the next repeat starts a fresh transfer. Two
 * retransmissions of our own (sent at 0, 1 and 3 s, given up at 7 s) suffice.
 */
export const MAX_FIRST_REPLY_RETRANSMITS = 2;
/** Each retransmission waits this factor longer than the one before… */
export const BACKOFF_FACTOR = 2;
/** …but never longer than this. */
export const MAX_RETRANSMIT_INTERVAL_MS = 8000;
/**
 * Longest a transfer may take from its first packet, whatever its progress. First stages are
 * about 1 MiB and take seconds; 5 minutes leaves room for 512-byte blocks over a lossy link
 * (2048 blocks, ~10 % of exchanges losing a packet, a 1 s timeout each: ~200 s).
 */
export const DEFAULT_TRANSFER_DEADLINE_MS = 5 * 60 * 1000;
const BLOCK_NUMBER_MODULUS = MAX_UINT16 + 1;

export interface TransferTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: TransferTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Random access to the bytes being served. `read` returns fewer bytes only at end of file. */
export interface BlockSource {
  readonly size: number;
  read(position: number, length: number): Promise<Uint8Array>;
}

export type TransferOutcome =
  | { readonly ok: true; readonly bytes: number }
  | {
      readonly ok: false;
      readonly bytes: number;
      readonly reason: string;
      /** The client ended it with an ERROR (edk2's size probe ends so, with ERROR 8). */
      readonly endedByClient?: true;
    };

export interface ReadTransferOptions {
  readonly source: BlockSource;
  readonly blockSize: number;
  readonly windowSize: number;
  /** First retransmission interval; later ones back off from it. */
  readonly timeoutMs: number;
  /** Options for the OACK; empty means the client asked for none we accept: DATA 1 goes first. */
  readonly acknowledged: readonly TftpOption[];
  readonly send: (packet: Buffer) => void;
  readonly timers?: TransferTimers;
  readonly maxRetransmits?: number;
  /** Absolute limit from `start()`. Default DEFAULT_TRANSFER_DEADLINE_MS. */
  readonly deadlineMs?: number;
}

type Phase = "idle" | "negotiating" | "sending" | "finished";

export class ReadTransfer {
  readonly done: Promise<TransferOutcome>;
  readonly #options: ReadTransferOptions;
  readonly #timers: TransferTimers;
  readonly #maxRetransmits: number;
  readonly #totalBlocks: number;
  /** Encoded DATA packets of the current window, by absolute block number (1-based). */
  readonly #cache = new Map<number, Buffer>();
  #resolve!: (outcome: TransferOutcome) => void;
  #queue: Promise<void> = Promise.resolve();
  #phase: Phase = "idle";
  /** First block not yet acknowledged. */
  #base = 1;
  /** Highest block sent so far in the current window. */
  #lastSent = 0;
  #retransmits = 0;
  #intervalMs: number;
  #timer: unknown;
  #deadline: unknown;
  #resentOnDuplicate = false;
  /** The client has acknowledged something: it listens on its port. */
  #clientAcknowledged = false;
  /** A repeated request was answered since the timer was last armed (see repeatFirstReply). */
  #answeredRepeat = false;
  /** The read of the next window, started while the client acknowledges the current one. */
  #prefetch: Promise<void> = Promise.resolve();

  constructor(options: ReadTransferOptions) {
    this.#options = options;
    this.#timers = options.timers ?? systemTimers;
    this.#maxRetransmits = options.maxRetransmits ?? MAX_RETRANSMITS;
    this.#intervalMs = options.timeoutMs;
    this.#totalBlocks = Math.floor(options.source.size / options.blockSize) + 1;
    this.done = new Promise((resolve) => (this.#resolve = resolve));
  }

  /** Sends the OACK or the first window. */
  start(): void {
    if (this.#phase !== "idle") return;
    const deadlineMs = this.#options.deadlineMs ?? DEFAULT_TRANSFER_DEADLINE_MS;
    this.#deadline = this.#timers.setTimeout(
      () =>
        this.abort(
          `deadline: not finished within ${deadlineMs} ms (${this.#bytesAcknowledged()} bytes acknowledged)`,
          TftpErrorText.deadlinePassed,
        ),
      deadlineMs,
    );
    if (this.#options.acknowledged.length > 0) {
      this.#phase = "negotiating";
      this.#options.send(encodeOack(this.#options.acknowledged));
      this.#arm();
    } else {
      this.#phase = "sending";
      this.#enqueue(() => this.#sendWindowFrom(1));
    }
  }

  /** A packet from the client's transfer ID. */
  receive(packet: TftpPacket): void {
    if (this.#phase === "finished") return;
    if (packet.type === "ERROR") {
      this.#finish({
        ok: false,
        bytes: this.#bytesAcknowledged(),
        reason: `client sent ERROR ${packet.code}: ${packet.message}`,
        endedByClient: true,
      });
    } else if (packet.type === "ACK") {
      this.#enqueue(() => this.#onAck(packet.block));
    }
    // DATA, OACK and requests have no meaning on a read transfer's TID: ignored.
  }

  /**
   * The client repeated its request. Until its first ACK that means our first reply (OACK or
   * DATA 1) did not reach it, so the reply goes again now rather than at the next timeout; after
   * it, the repeat is a stale duplicate and changes nothing. Neither the timer nor the count of
   * retransmissions moves (only an ACK proves someone listens), and at most one repeat is
   * answered per retransmission interval, so a burst of repeats draws no burst of replies.
   */
  repeatFirstReply(): void {
    if (this.#clientAcknowledged || this.#answeredRepeat) return;
    if (this.#phase === "negotiating") {
      this.#answeredRepeat = true;
      this.#options.send(encodeOack(this.#options.acknowledged));
    } else if (this.#phase === "sending") {
      this.#answeredRepeat = true;
      this.#enqueue(() => this.#resendFirstData());
    }
  }

  /**
   * Ends the transfer at once with an ERROR packet saying `text` (fixed, see TftpErrorText);
   * `reason` is what the outcome reports.
   */
  abort(reason: string, text: TftpErrorTextValue = TftpErrorText.serverError): void {
    if (this.#phase === "finished") return;
    this.#options.send(encodeError(TftpErrorCode.NotDefined, text));
    this.#finish({ ok: false, bytes: this.#bytesAcknowledged(), reason });
  }

  #enqueue(task: () => void | Promise<void>): void {
    this.#queue = this.#queue.then(task).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      this.abort(`cannot read the file: ${message}`);
    });
  }

  async #onAck(wireBlock: number): Promise<void> {
    if (this.#phase === "negotiating") {
      if (wireBlock !== 0) return;
      this.#phase = "sending";
      this.#progress();
      await this.#sendWindowFrom(1);
      return;
    }
    if (this.#phase !== "sending") return;
    const block = this.#absoluteBlock(wireBlock);
    if (block === undefined) return;
    if (block === this.#base - 1) {
      if (this.#options.windowSize === 1 || this.#resentOnDuplicate) return;
      this.#resentOnDuplicate = true;
      await this.#sendWindowFrom(this.#base);
      return;
    }
    this.#base = block + 1;
    this.#progress();
    for (const cached of this.#cache.keys()) if (cached < this.#base) this.#cache.delete(cached);
    if (block === this.#totalBlocks) {
      this.#finish({ ok: true, bytes: this.#options.source.size });
      return;
    }
    await this.#sendWindowFrom(this.#base);
  }

  /** Maps a 16-bit ACK number onto the blocks it can mean: base−1 up to the last one sent. */
  #absoluteBlock(wireBlock: number): number | undefined {
    const behind =
      (((this.#lastSent - wireBlock) % BLOCK_NUMBER_MODULUS) + BLOCK_NUMBER_MODULUS) %
      BLOCK_NUMBER_MODULUS;
    const block = this.#lastSent - behind;
    return block >= this.#base - 1 ? block : undefined;
  }

  #progress(): void {
    this.#clientAcknowledged = true;
    this.#retransmits = 0;
    this.#intervalMs = this.#options.timeoutMs;
    this.#resentOnDuplicate = false;
  }

  async #sendWindowFrom(first: number): Promise<void> {
    const last = Math.min(first + this.#options.windowSize - 1, this.#totalBlocks);
    await this.#load(first, last);
    if (this.#phase !== "sending") return;
    for (let block = first; block <= last; block++) {
      this.#options.send(this.#cache.get(block) as Buffer);
    }
    this.#lastSent = last;
    this.#arm();
    if (last < this.#totalBlocks) {
      const next = Math.min(last + this.#options.windowSize, this.#totalBlocks);
      // A failed read-ahead is retried (and reported) by the read that needs the blocks.
      this.#prefetch = this.#load(last + 1, next).catch(() => undefined);
    }
  }

  /** Reads the blocks of [first, last] not cached yet with one read, and frames them. */
  async #load(first: number, last: number): Promise<void> {
    await this.#prefetch;
    let missing = first;
    while (missing <= last && this.#cache.has(missing)) missing++;
    if (missing > last) return;
    const { blockSize, source } = this.#options;
    const position = (missing - 1) * blockSize;
    const length = Math.min((last - missing + 1) * blockSize, source.size - position);
    const bytes = await source.read(position, length);
    if (this.#phase === "finished") return;
    if (bytes.length !== length) {
      throw new Error(`expected ${length} bytes at offset ${position}, got ${bytes.length}`);
    }
    for (let block = missing; block <= last; block++) {
      const start = (block - missing) * blockSize;
      const data = bytes.subarray(start, Math.min(start + blockSize, bytes.length));
      this.#cache.set(block, encodeData(block % BLOCK_NUMBER_MODULUS, data));
    }
  }

  #arm(): void {
    this.#answeredRepeat = false;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = this.#timers.setTimeout(
      () => this.#enqueue(() => this.#onTimeout()),
      this.#intervalMs,
    );
  }

  async #resendFirstData(): Promise<void> {
    await this.#load(1, 1);
    const first = this.#cache.get(1);
    if (this.#phase === "sending" && !this.#clientAcknowledged && first) this.#options.send(first);
  }

  async #onTimeout(): Promise<void> {
    if (this.#phase === "finished") return;
    const limit = this.#clientAcknowledged
      ? this.#maxRetransmits
      : Math.min(this.#maxRetransmits, MAX_FIRST_REPLY_RETRANSMITS);
    if (this.#retransmits >= limit) {
      const waiting = this.#phase === "negotiating" ? "the OACK" : `block ${this.#base}`;
      this.abort(
        `timed out: no ACK for ${waiting} after ${this.#retransmits} retransmissions`,
        TftpErrorText.timedOut,
      );
      return;
    }
    this.#retransmits++;
    this.#intervalMs = Math.min(this.#intervalMs * BACKOFF_FACTOR, MAX_RETRANSMIT_INTERVAL_MS);
    this.#resentOnDuplicate = false;
    if (this.#phase === "negotiating") {
      this.#options.send(encodeOack(this.#options.acknowledged));
      this.#arm();
    } else {
      await this.#sendWindowFrom(this.#base);
    }
  }

  #bytesAcknowledged(): number {
    return Math.min((this.#base - 1) * this.#options.blockSize, this.#options.source.size);
  }

  #finish(outcome: TransferOutcome): void {
    if (this.#phase === "finished") return;
    this.#phase = "finished";
    this.#timers.clearTimeout(this.#timer);
    this.#timers.clearTimeout(this.#deadline);
    this.#cache.clear();
    this.#resolve(outcome);
  }
}
