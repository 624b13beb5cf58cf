/**
 * How big a file response's read/write chunks are: as big as helps (fewer thread-pool reads and
 * socket writes per byte), as small as the number of responses at once requires, so that all
 * file buffers together stay near one budget whatever the concurrency. Eight machines pulling a
 * kernel get 1 MiB chunks; a boot storm of fifty gets 256 KiB ones (bench/http.bench.ts and
 * bench/boot-storm.bench.ts, ADR 0360).
 */

import { BUFFERS_PER_RESPONSE } from "./file-pump.js";

export interface ChunkBudgetOptions {
  /** What the buffers of all file responses together may hold (with at least `minBytes` each). */
  readonly budgetBytes: number;
  readonly minBytes: number;
  readonly maxBytes: number;
}

/** 32 MiB for all file buffers; chunks between 64 KiB (Node's stream default) and 1 MiB. */
export const DEFAULT_CHUNK_BUDGET: ChunkBudgetOptions = {
  budgetBytes: 32 * 1024 * 1024,
  minBytes: 64 * 1024,
  maxBytes: 1024 * 1024,
};

/** A response's share: `chunkBytes()` is asked before every read and may change between reads. */
export interface ChunkShare {
  chunkBytes(): number;
  release(): void;
}

/** The largest power of two not above `value` (value ≥ 1). */
function powerOfTwoBelow(value: number): number {
  return 2 ** Math.floor(Math.log2(value));
}

export class ChunkBudget {
  readonly #options: ChunkBudgetOptions;
  #responses = 0;

  constructor(options: ChunkBudgetOptions = DEFAULT_CHUNK_BUDGET) {
    if (!(options.minBytes >= 1 && options.minBytes <= options.maxBytes))
      throw new RangeError(
        `chunk sizes must satisfy 1 <= min (${options.minBytes}) <= max (${options.maxBytes})`,
      );
    this.#options = options;
  }

  /** One fixed size for every response (what `chunkBytes` in the server options asks for). */
  static fixed(bytes: number): ChunkBudget {
    return new ChunkBudget({ budgetBytes: 0, minBytes: bytes, maxBytes: bytes });
  }

  /** Responses holding a share now. */
  get responses(): number {
    return this.#responses;
  }

  /**
   * The chunk size for each of the current responses: the budget split between them, rounded
   * down to a power of two (so sizes, and buffer reallocations, change only when the count
   * doubles or halves), within [minBytes, maxBytes].
   */
  chunkBytes(): number {
    const { budgetBytes, minBytes, maxBytes } = this.#options;
    const share = budgetBytes / (BUFFERS_PER_RESPONSE * Math.max(1, this.#responses));
    return Math.min(maxBytes, Math.max(minBytes, share >= 1 ? powerOfTwoBelow(share) : 0));
  }

  /** A new response's share, counted until `release()` (once; later calls do nothing). */
  open(): ChunkShare {
    this.#responses++;
    let released = false;
    return {
      chunkBytes: () => this.chunkBytes(),
      release: () => {
        if (released) return;
        released = true;
        this.#responses--;
      },
    };
  }
}
