import { describe, expect, it } from "vitest";
import { ChunkBudget, DEFAULT_CHUNK_BUDGET } from "../../src/http/chunk-budget.js";

const KIB = 1024;

describe("ChunkBudget", () => {
  it("gives eight responses the largest chunk and later starters less; a size is kept", () => {
    const budget = new ChunkBudget();
    const shares = Array.from({ length: 8 }, () => budget.open());
    expect(shares.map((share) => share.chunkBytes)).toEqual(Array(8).fill(1024 * KIB));
    shares.push(...Array.from({ length: 42 }, () => budget.open()));
    expect(budget.responses).toBe(50);
    // The 50th: 16 MiB / (2 buffers × 50) = 168 KB, rounded down to a power of two.
    expect(shares[49]!.chunkBytes).toBe(128 * KIB);
    expect(shares[0]!.chunkBytes).toBe(1024 * KIB);
    // All fifty started one after another hold about budget × (1 + log2(50 / 8) / 2).
    const held = shares.reduce((sum, share) => sum + 2 * share.chunkBytes, 0);
    expect(held).toBeLessThanOrEqual(
      DEFAULT_CHUNK_BUDGET.budgetBytes * (1 + Math.log2(50 / 8) / 2),
    );
    for (const share of shares.slice(8)) share.release();
    expect(budget.open().chunkBytes).toBe(512 * KIB);
  });

  it("never goes below the smallest chunk, however many responses", () => {
    const budget = new ChunkBudget();
    for (let i = 0; i < 10_000; i++) budget.open();
    expect(budget.chunkBytes()).toBe(DEFAULT_CHUNK_BUDGET.minBytes);
  });

  it("counts a response once, however often it is released", () => {
    const budget = new ChunkBudget();
    const kept = budget.open();
    const share = budget.open();
    share.release();
    share.release();
    expect(budget.responses).toBe(1);
    kept.release();
    expect(budget.responses).toBe(0);
  });

  it("keeps a fixed size fixed, and refuses sizes that cannot be", () => {
    const budget = ChunkBudget.fixed(64 * KIB);
    for (let i = 0; i < 100; i++) budget.open();
    expect(budget.open().chunkBytes).toBe(64 * KIB);
    expect(() => ChunkBudget.fixed(0)).toThrow(RangeError);
    expect(() => new ChunkBudget({ budgetBytes: 1, minBytes: 2, maxBytes: 1 })).toThrow(
      /1 <= min \(2\) <= max \(1\)/,
    );
  });
});
