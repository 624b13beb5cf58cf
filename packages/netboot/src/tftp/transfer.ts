/**
 * The sending side of one read transfer, as a state machine with no sockets: packets come in
 * through `receive`, packets go out through the `send` callback, time comes from injectable
 * timers, file bytes from a `BlockSource` read READ_AHEAD_BYTES (or a window) at a time, never
 * the whole file.
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
 * us (RFC 1350 §2: "the intended recipient will timeout and may retransmit his last packet"; edk2
 * every PXEBC_MTFTP_TIMEOUT = 4 s, NetworkPkg/UefiPxeBcDxe/PxeBcImpl.h), and a repeat makes the transfer resend its first reply
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
/**
 * File bytes read at once, however small the window: a lock-step transfer would otherwise pay
 * one read (a trip to libuv's thread pool) per block. 64 KiB is 44 blocks of 1468 bytes and
 * bounds what one transfer holds in memory (twice this with the read-ahead, or two windows).
 */
export const READ_AHEAD_BYTES = 64 * 1024;
const BLOCK_NUMBER_MODULUS = MAX_UINT16 + 1;

export interface TransferTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Milliseconds on a clock that `setTimeout` follows. Default `Date.now`. */
  now?(): number;
}

export const systemTimers: TransferTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => performance.now(),
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
  /** Blocks per file read: READ_AHEAD_BYTES, or a whole window when that is larger. */
  readonly #blocksPerRead: number;
  readonly #now: () => number;
  /** Encoded DATA packets read ahead, by absolute block number (1-based). */
  readonly #cache = new Map<number, Buffer>();
  /** Highest block in the cache (every block from `#base` up to it is there). */
  #cachedThrough = 0;
  #resolve!: (outcome: TransferOutcome) => void;
  #queue: Promise<void> = Promise.resolve();
  /** Tasks queued or running; none means the next one may run at once (see #enqueue). */
  #pending = 0;
  #phase: Phase = "idle";
  /** First block not yet acknowledged. */
  #base = 1;
  /** Highest block sent so far in the current window. */
  #lastSent = 0;
  #retransmits = 0;
  #intervalMs: number;
  /** The retransmission timer; it fires at `#retransmitAt` (see #arm). */
  #timer: unknown;
  #timerDueAt = 0;
  #retransmitAt = 0;
  #deadline: unknown;
  #resentOnDuplicate = false;
  /** The client has acknowledged something: it listens on its port. */
  #clientAcknowledged = false;
  /** A repeated request was answered since the timer was last armed (see repeatFirstReply). */
  #answeredRepeat = false;
  /** The read ahead of the window, started while the client acknowledges the current one. */
  #prefetch: Promise<void> | undefined;

  constructor(options: ReadTransferOptions) {
    this.#options = options;
    this.#timers = options.timers ?? systemTimers;
    this.#maxRetransmits = options.maxRetransmits ?? MAX_RETRANSMITS;
    this.#intervalMs = options.timeoutMs;
    this.#totalBlocks = Math.floor(options.source.size / options.blockSize) + 1;
    this.#blocksPerRead = Math.max(
      options.windowSize,
      Math.ceil(READ_AHEAD_BYTES / options.blockSize),
    );
    const timers = this.#timers;
    this.#now = timers.now ? () => (timers.now as () => number)() : Date.now;
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

  /**
   * Runs tasks one after the other. With nothing queued a task runs at once, so an ACK whose
   * blocks are read ahead is answered within the datagram's own callback, with no promise made.
   */
  #enqueue(task: () => void | Promise<void>): void {
    if (this.#pending === 0) {
      let result: void | Promise<void>;
      try {
        result = task();
      } catch (error) {
        this.#readFailed(error);
        return;
      }
      if (result === undefined) return;
      this.#pending++;
      this.#queue = result
        .catch((error: unknown) => this.#readFailed(error))
        .finally(this.#settled);
      return;
    }
    this.#pending++;
    this.#queue = this.#queue
      .then(task)
      .catch((error: unknown) => this.#readFailed(error))
      .finally(this.#settled);
  }

  readonly #settled = (): void => {
    this.#pending--;
  };

  #readFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.abort(`cannot read the file: ${message}`);
  }

  #onAck(wireBlock: number): void | Promise<void> {
    if (this.#phase === "negotiating") {
      if (wireBlock !== 0) return;
      this.#phase = "sending";
      this.#progress();
      return this.#sendWindowFrom(1);
    }
    if (this.#phase !== "sending") return;
    const block = this.#absoluteBlock(wireBlock);
    if (block === undefined) return;
    if (block === this.#base - 1) {
      if (this.#options.windowSize === 1 || this.#resentOnDuplicate) return;
      this.#resentOnDuplicate = true;
      return this.#sendWindowFrom(this.#base);
    }
    for (let acknowledged = this.#base; acknowledged <= block; acknowledged++) {
      this.#cache.delete(acknowledged);
    }
    this.#base = block + 1;
    this.#progress();
    if (block === this.#totalBlocks) {
      this.#finish({ ok: true, bytes: this.#options.source.size });
      return;
    }
    return this.#sendWindowFrom(this.#base);
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

  /** Sends the window from `first`; at once when its blocks are read ahead, else after a read. */
  #sendWindowFrom(first: number): void | Promise<void> {
    const last = Math.min(first + this.#options.windowSize - 1, this.#totalBlocks);
    if (last > this.#cachedThrough || !this.#cache.has(first)) {
      return this.#load(first).then(() => this.#sendCachedWindow(first, last));
    }
    this.#sendCachedWindow(first, last);
  }

  #sendCachedWindow(first: number, last: number): void {
    if (this.#phase !== "sending") return;
    for (let block = first; block <= last; block++) {
      this.#options.send(this.#cache.get(block) as Buffer);
    }
    this.#lastSent = last;
    this.#arm();
    // Read on while the client acknowledges: before the blocks left run short of a window.
    const through = this.#cachedThrough;
    if (
      this.#prefetch === undefined &&
      through < this.#totalBlocks &&
      through - last < Math.max(this.#options.windowSize, this.#blocksPerRead / 2)
    ) {
      const prefetch = this.#read(through + 1)
        // A failed read-ahead is retried (and reported) by the read that needs the blocks.
        .catch(() => undefined)
        .finally(() => {
          if (this.#prefetch === prefetch) this.#prefetch = undefined;
        });
      this.#prefetch = prefetch;
    }
  }

  /** Makes the blocks from `first` on readable from the cache, waiting for a read ahead first. */
  async #load(first: number): Promise<void> {
    if (this.#prefetch) await this.#prefetch;
    const last = Math.min(first + this.#options.windowSize - 1, this.#totalBlocks);
    if (this.#cache.has(first) && last <= this.#cachedThrough) return;
    let missing = first;
    while (this.#cache.has(missing)) missing++;
    await this.#read(missing);
  }

  /** Reads `#blocksPerRead` blocks from `first` with one read and frames them. */
  async #read(first: number): Promise<void> {
    const { blockSize, source } = this.#options;
    const last = Math.min(first + this.#blocksPerRead - 1, this.#totalBlocks);
    const position = (first - 1) * blockSize;
    const length = Math.min((last - first + 1) * blockSize, source.size - position);
    const bytes = await source.read(position, length);
    if (this.#phase === "finished") return;
    if (bytes.length !== length) {
      throw new Error(`expected ${length} bytes at offset ${position}, got ${bytes.length}`);
    }
    for (let block = first; block <= last; block++) {
      if (block < this.#base) continue;
      const start = (block - first) * blockSize;
      const data = bytes.subarray(start, Math.min(start + blockSize, bytes.length));
      this.#cache.set(block, encodeData(block % BLOCK_NUMBER_MODULUS, data));
    }
    if (first <= this.#cachedThrough + 1) this.#cachedThrough = Math.max(this.#cachedThrough, last);
  }

  /**
   * (Re)starts the retransmission interval. Lock-step sends a window per ACK, so the timer is
   * not replaced each time: it fires when it was due, and sleeps again for what is left when
   * the interval was restarted since.
   */
  #arm(): void {
    this.#answeredRepeat = false;
    this.#retransmitAt = this.#now() + this.#intervalMs;
    if (this.#timer !== undefined && this.#timerDueAt <= this.#retransmitAt) return;
    // None yet, or due too late: progress shortened the interval after a backoff.
    this.#timers.clearTimeout(this.#timer);
    this.#startTimer(this.#intervalMs);
  }

  #startTimer(ms: number): void {
    this.#timerDueAt = this.#now() + ms;
    this.#timer = this.#timers.setTimeout(this.#onTimer, ms);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    if (this.#phase === "finished") return;
    const early = this.#retransmitAt - this.#now();
    if (early > 0) {
      this.#startTimer(early);
      return;
    }
    this.#enqueue(() => this.#onTimeout());
  };

  async #resendFirstData(): Promise<void> {
    await this.#load(1);
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
