/**
 * The one error root of metal (STYLE.md, after undici's `UndiciError`; ADR 0212). Every error a
 * user can meet derives from `MetalError` and carries a stable `code` (for scripts, `--json`
 * output and tests; messages may change, codes do not) and an exit class. The CLI maps exit
 * classes to exit codes in exactly one place, `exitCodeFor`.
 */

/** The exit codes every `metal` command documents in its `--help`. */
export const EXIT_CODES = {
  ok: 0,
  /** The work failed, possibly halfway: something may have changed; the output says what. */
  failed: 1,
  /** Refused before changing anything: bad flags, invalid configuration, a lock held elsewhere. */
  refused: 2,
} as const;

export type ExitClass = "failed" | "refused";

export class MetalError extends Error {
  /** The thrown class's own name (`DeployLockedError`, …), so no subclass repeats it as a string. */
  override name = this.constructor.name;
  /** Stable identifier of the kind of failure, SCREAMING_SNAKE_CASE, never reused. */
  readonly code: string = "METAL_FAILED";
  /** What the exit code says about the system: `refused` only when nothing was changed. */
  readonly exit: ExitClass = "failed";
}

/**
 * The exit code for an error that ended a command. An error that is not a `MetalError` is a bug
 * or an unexpected failure of the machine: metal cannot know whether anything changed, so it
 * never claims "nothing was changed" for it.
 */
export function exitCodeFor(error: unknown): number {
  return error instanceof MetalError ? EXIT_CODES[error.exit] : EXIT_CODES.failed;
}

/** `metal: CODE: message` for a MetalError; the plain message otherwise. */
export function describeError(error: unknown): string {
  if (error instanceof MetalError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
