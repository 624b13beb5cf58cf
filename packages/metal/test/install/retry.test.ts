import { describe, expect, it } from "vitest";
import { retryDelayMs, retrySchedule } from "../../src/install/retry.js";

describe("install retry back-off", () => {
  it("doubles from the base delay and stops growing at the cap", () => {
    expect(retrySchedule(6, { baseMs: 5_000, maxMs: 60_000 })).toEqual([
      5_000, 10_000, 20_000, 40_000, 60_000, 60_000,
    ]);
  });

  it("has no delays when no retries are allowed", () => {
    expect(retrySchedule(0)).toEqual([]);
  });

  it("refuses retry numbers below 1", () => {
    expect(() => retryDelayMs(0)).toThrow(RangeError);
  });
});
