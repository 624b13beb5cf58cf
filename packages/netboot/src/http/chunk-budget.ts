/**
 * How big a file response's read/write chunks are: as big as helps (fewer thread-pool reads and
 * socket writes per byte), as small as the number of responses at once requires. A response's
 * size is chosen when it starts, from the responses then in progress, and kept: its two buffers
 * are allocated once (resizing them as the count moved made garbage that a boot storm's RSS
 * showed, ADR 0360). Eight machines pulling a kernel get 1 MiB chunks; in a boot storm of fifty
 * the later starters get less (bench/http.bench.ts and bench/boot-storm.bench.ts).
 */

import { BUFFERS_PER_RESPONSE } from "./file-pump.js";

export interface ChunkBudgetOptions {
  /**
   * What the buffers of the responses in progress are sized to share when one starts: with n in
   * progress, a new one gets budget / 2n (at least `minBytes`). As sizes are kept, the buffers
   * of n responses that started one after another add up to about budget × (1 + log2(n / k) / 2),
   * k the count that still gets `maxBytes`.
   */
  readonly budgetBytes: number;
  readonly minBytes: number;
  readonly maxBytes: number;
}

/** 16 MiB shared; chunks between 64 KiB (Node's stream default) and 1 MiB (8 responses). */
export const DEFAULT_CHUNK_BUDGET: ChunkBudgetOptions = {
  budgetBytes: 16 * 1024 * 1024,
  minBytes: 64 * 1024,
  maxBytes: 1024 * 1024,
};

/** A response's share: its chunk size, fixed when it started, counted until released. */
export interface ChunkShare {
  readonly chunkBytes: number;
  release(): void;
}

/** The largest power of two not above `value` (0 for 0, a fraction for a value below 1). */
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
   * The chunk size for a response starting now: the budget split between the responses in
   * progress, rounded down to a power of two, within [minBytes, maxBytes].
   */
  chunkBytes(): number {
    const { budgetBytes, minBytes, maxBytes } = this.#options;
    const share = budgetBytes / (BUFFERS_PER_RESPONSE * Math.max(1, this.#responses));
    // A share below one byte rounds below one, and minBytes (≥ 1) takes over.
    return Math.min(maxBytes, Math.max(minBytes, powerOfTwoBelow(share)));
  }

  /** A new response's share, counted until `release()` (once; later calls do nothing). */
  open(): ChunkShare {
    this.#responses++;
    let released = false;
    return {
      chunkBytes: this.chunkBytes(),
      release: () => {
        if (released) return;
        released = true;
        this.#responses--;
      },
    };
  }
}
