/**
 * Which phase may follow which. Everything not listed is refused, so a bug elsewhere cannot,
 * say, send an installed host back to the installer. `pending` after `installed`, `ready` or
 * `failed` is a reinstall (a new attempt); nothing else goes backwards except a retried install
 * (`installing → installer`: the installer is still up and the install command runs again).
 * `pending → ready` is a host the state did not know that proves it is installed (its pinned
 * host key answers on its address); `failed → installed` is a host that failed waiting for its
 * first boot: it is installed, so it waits again instead of being installed again.
 */
import type { Phase } from "./types.js";

export const ALLOWED_TRANSITIONS: Readonly<Record<Phase, readonly Phase[]>> = {
  pending: ["waking", "pxe", "failed", "ready"],
  waking: ["pxe", "failed"],
  pxe: ["installer", "failed"],
  installer: ["installing", "failed"],
  installing: ["installed", "installer", "failed"],
  installed: ["ready", "failed", "pending"],
  ready: ["pending"],
  failed: ["pending", "installed"],
};

/** Phases from which `--reinstall` may start a new attempt. */
export const REINSTALLABLE: readonly Phase[] = ["installed", "ready", "failed"];

/** Phases in which a PXE boot must bring up the installer; every other phase boots the disk. */
export const INSTALLER_PHASES: readonly Phase[] = ["pending", "waking", "pxe"];

export function isAllowedTransition(from: Phase, to: Phase): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}
