/** Errors of the state store a user or the orchestrator can meet. */
import { MetalError } from "../errors.js";
import type { Phase } from "./types.js";

export class StateError extends MetalError {
  override readonly code: string = "STATE_FAILED";
}

/** Compare-and-set failed: the host was not in a phase the caller expected (someone else moved it). */
export class PhaseConflictError extends StateError {
  override readonly code: string = "STATE_PHASE_CONFLICT";
  constructor(
    readonly host: string,
    readonly expected: readonly Phase[],
    readonly actual: Phase,
  ) {
    super(`host "${host}" is in phase ${actual}, not ${expected.join(" or ")}`);
  }
}

export class IllegalTransitionError extends StateError {
  override readonly code: string = "STATE_ILLEGAL_TRANSITION";
  constructor(
    readonly host: string,
    readonly from: Phase,
    readonly to: Phase,
  ) {
    super(
      `host "${host}" cannot go from ${from} to ${to} (see docs/state.md for the allowed phases)`,
    );
  }
}

export class UnknownHostError extends StateError {
  override readonly code: string = "STATE_UNKNOWN_HOST";
  override readonly exit = "refused";
  constructor(readonly host: string) {
    super(`host "${host}" is not in the state (is it in the inventory?)`);
  }
}

/** The state file exists but cannot be used; the message says which file and what to do. */
export class StateFileError extends StateError {
  override readonly code: string = "STATE_FILE_UNUSABLE";
  override readonly exit = "refused";
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(
      `state file ${file} ${reason}; restore it from a backup or fix it by hand (moving it aside makes every host pending again, so machines that PXE-boot would be reinstalled)`,
    );
  }
}

/** Another live metal process holds the state directory. */
export class StateLockedError extends StateError {
  override readonly code: string = "STATE_LOCKED";
  override readonly exit = "refused";
  constructor(
    readonly directory: string,
    readonly pid: number,
  ) {
    super(
      `state directory ${directory} is in use by another metal process (pid ${pid}); wait for it to finish or stop it (\`metal status\` works meanwhile)`,
    );
  }
}
