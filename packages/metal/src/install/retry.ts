/**
 * When a failed install command runs again: exponential back-off from a base delay, capped,
 * so a host that fails because its installer is still settling gets a moment, and a host that
 * fails for good does not hold the run for long.
 */

export interface BackOff {
  /** Delay before the first retry. */
  readonly baseMs: number;
  /** No delay grows beyond this. */
  readonly maxMs: number;
}

export const DEFAULT_INSTALL_BACK_OFF: BackOff = { baseMs: 5_000, maxMs: 60_000 };

/** Delay before retry number `retry` (1 = the first retry): base, 2×base, 4×base … capped. */
export function retryDelayMs(retry: number, backOff: BackOff = DEFAULT_INSTALL_BACK_OFF): number {
  if (!Number.isInteger(retry) || retry < 1) throw new RangeError(`retry ${retry} is not 1, 2, …`);
  return Math.min(backOff.maxMs, backOff.baseMs * 2 ** (retry - 1));
}

/** Every delay of a run with `retries` extra attempts, in order (for --help and the docs). */
export function retrySchedule(
  retries: number,
  backOff: BackOff = DEFAULT_INSTALL_BACK_OFF,
): number[] {
  return Array.from({ length: retries }, (_, index) => retryDelayMs(index + 1, backOff));
}
