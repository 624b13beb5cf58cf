/**
 * Files of the repository that the CLI reads at run time although they live outside its package
 * (the virtual lab's inventory, the callback agent the NixOS installer shares). In a checkout
 * they are read where they live; the packed CLI (scripts/pack-cli.sh) carries copies in its own
 * share/ folder, so an installed `metal` never looks for a repository
 * (docs/decisions/0140-one-install-story-for-the-cli.md).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Repository paths copied into share/ by scripts/pack-cli.sh (keep the two lists equal). */
export const SHARED_FILES = ["examples/lab.toml", "nix/installer/metal-agent.sh"] as const;
export type SharedFile = (typeof SHARED_FILES)[number];

/** From src/ and dist/ alike, the package root is one level up and the repository three. */
const PACKAGE_SHARE = new URL("../share/", import.meta.url);
const CHECKOUT_ROOT = new URL("../../../", import.meta.url);

/** The absolute path of a shared file: the packed copy when there is one, else the checkout's. */
export function sharedFile(file: SharedFile): string {
  const packed = fileURLToPath(new URL(file, PACKAGE_SHARE));
  return existsSync(packed) ? packed : fileURLToPath(new URL(file, CHECKOUT_ROOT));
}
