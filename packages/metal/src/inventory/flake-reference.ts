/**
 * The one reading of `cluster.flake` (docs/inventory.md), for `metal install` and `metal deploy`
 * alike: a relative path (`.`, `./cluster`) means a folder relative to the inventory's own
 * folder, wherever metal is run from; absolute paths and other references (`github:…`,
 * `git+https://…`) pass through unchanged.
 */
import { dirname, resolve } from "node:path";
import type { Inventory } from "./types.js";

const RELATIVE_PATH = /^\.\.?(\/|$)/;

export function flakeReference(inventory: Pick<Inventory, "cluster" | "source">): string {
  const { flake } = inventory.cluster;
  return RELATIVE_PATH.test(flake) ? resolve(dirname(inventory.source), flake) : flake;
}
