/**
 * The host lifecycle in one place: the phases' roles, every move a host can make, who makes it,
 * and the condition a move needs beyond its starting phase. Pure: no I/O. Callers ask for a
 * move by name (`move("installDone", step)`) and hand the result to `StateStore.change`, which
 * applies it with compare-and-set on the phase and checks the condition against the record as
 * it is at that moment. docs/state.md draws the same table.
 *
 * Every change a caller hands the store comes from here: `move(name, …)` for a phase move, or
 * `stay(phases, step)` for a step (and fields) written while the host stays where it is.
 * `test/state/lifecycle-callers.test.ts` proves that no source file writes a change around them.
 *
 * Nothing goes backwards except: a retried install (`installing → installer`: the installer is
 * still up), `--reinstall` (a finished host starts a new attempt), a failed host retried, and a
 * host that failed waiting for its first boot waiting again (ADR 0181): it is installed, so it
 * is never sent back to the installer without `--reinstall`.
 */
import type { HostChange } from "./store.js";
import type { HostRecord, Phase } from "./types.js";

/** Who moves a host: the part of metal that observed what the move records. */
export type Actor =
  | "wake loop"
  | "boot policy"
  | "callback API"
  | "install"
  | "first-boot watch"
  | "run start"
  | "operator";

export interface Move {
  readonly from: readonly Phase[];
  readonly to: Phase;
  readonly by: readonly Actor[];
  /** What else must hold for the host (checked by the store at apply time). */
  readonly when?: ((host: HostRecord) => boolean) | undefined;
}

const failedAfterInstall = (host: HostRecord) => host.failure?.phase === "installed";

export const MOVES = {
  wakeSent: { from: ["pending"], to: "waking", by: ["wake loop"] },
  firstDhcp: { from: ["pending", "waking"], to: "pxe", by: ["boot policy"] },
  /** The installer script's token is minted; a host whose DHCP went unseen is in `pxe` now. */
  installerScriptServed: { from: ["pending", "waking", "pxe"], to: "pxe", by: ["boot policy"] },
  installerAccepted: { from: ["pxe"], to: "installer", by: ["callback API"] },
  installStarted: { from: ["installer"], to: "installing", by: ["install"] },
  /** The install command failed, or metal restarted mid-install: the installer still answers. */
  installAgain: { from: ["installing"], to: "installer", by: ["install", "run start"] },
  installDone: { from: ["installing"], to: "installed", by: ["install"] },
  /** The first-boot callback, or SSH with the pinned host key when it stays silent. */
  firstBoot: {
    from: ["installed"],
    to: "ready",
    by: ["callback API", "first-boot watch", "run start"],
  },
  /** A host the state did not know whose pinned host key answers (a deleted state directory). */
  foundInstalled: { from: ["pending"], to: "ready", by: ["run start"] },
  fail: {
    from: ["pending", "waking", "pxe", "installer", "installing", "installed"],
    to: "failed",
    by: ["wake loop", "boot policy", "callback API", "install", "first-boot watch", "run start"],
  },
  reinstall: { from: ["installed", "ready", "failed"], to: "pending", by: ["operator"] },
  retryFailed: {
    from: ["failed"],
    to: "pending",
    by: ["run start"],
    when: (host) => !failedAfterInstall(host),
  },
  awaitFirstBootAgain: {
    from: ["failed"],
    to: "installed",
    by: ["run start"],
    when: failedAfterInstall,
  },
} as const satisfies Record<string, Move>;

export type MoveName = keyof typeof MOVES;

/** Which phase may follow which: the union of every move. */
export const ALLOWED_TRANSITIONS: Readonly<Record<Phase, readonly Phase[]>> = (() => {
  const table: Record<Phase, Phase[]> = {
    pending: [],
    waking: [],
    pxe: [],
    installer: [],
    installing: [],
    installed: [],
    ready: [],
    failed: [],
  };
  // A move whose target is its start (installerScriptServed from pxe) changes no phase.
  for (const move of Object.values(MOVES) as readonly Move[])
    for (const from of move.from)
      if (from !== move.to && !table[from].includes(move.to)) table[from].push(move.to);
  return table;
})();

export function isAllowedTransition(from: Phase, to: Phase): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}

/** Phases from which `--reinstall` may start a new attempt. */
export const REINSTALLABLE: readonly Phase[] = MOVES.reinstall.from;

/** Phases in which a PXE boot must bring up the installer; every other phase boots the disk. */
export const INSTALLER_PHASES: readonly Phase[] = ["pending", "waking", "pxe"];

/** A run is over for a host in one of these. */
export const FINAL_PHASES: readonly Phase[] = ["ready", "failed"];

/** Entering `pending` from here starts a new attempt (new tokens, installer forgotten). */
export const NEW_ATTEMPT_PHASE: Phase = "pending";

/**
 * The change that makes `name` happen: expected phases, target phase, step and condition.
 * `extra` carries the failure reason, the fields the move sets, and `from`: a narrower set of
 * starting phases for this caller (an install fails only from `installing`).
 */
export function move(
  name: MoveName,
  step: string,
  extra: Pick<HostChange, "reason" | "update"> & { readonly from?: Phase | readonly Phase[] } = {},
): HostChange {
  const { to, when } = MOVES[name] as Move;
  const allowed: readonly Phase[] = MOVES[name].from;
  const { from = allowed, ...rest } = extra;
  const expect = typeof from === "string" ? [from] : from;
  const outside = expect.filter((phase) => !allowed.includes(phase));
  if (outside.length > 0)
    throw new Error(
      `move ${name} cannot start from ${outside.join(", ")} (only ${allowed.join(", ")})`,
    );
  return { expect, to, step, ...rest, ...(when ? { when } : {}) };
}

/**
 * A step (and the fields it sets) for a host that stays in its phase: the change applies only
 * while the host is in one of `phases` (compare-and-set), and never moves it.
 */
export function stay(
  phases: Phase | readonly Phase[],
  step: string,
  extra: Pick<HostChange, "update"> = {},
): HostChange {
  return { expect: phases, step, ...extra };
}
