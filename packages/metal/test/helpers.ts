/** Shared test setup: a lab inventory, a store in a temp directory, hosts walked to a phase. */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadInventory } from "../src/inventory/load.js";
import type { Inventory } from "../src/inventory/types.js";
import { FileStateStore } from "../src/state/file-store.js";
import type { StateStore } from "../src/state/store.js";
import type { Phase } from "../src/state/types.js";

export const LAB_INVENTORY = new URL("../../../examples/lab.toml", import.meta.url).pathname;

/** The way from `pending` to each phase through allowed transitions. */
const PATH_TO: Readonly<Record<Phase, readonly Phase[]>> = {
  pending: [],
  waking: ["waking"],
  pxe: ["pxe"],
  installer: ["pxe", "installer"],
  installing: ["pxe", "installer", "installing"],
  installed: ["pxe", "installer", "installing", "installed"],
  ready: ["pxe", "installer", "installing", "installed", "ready"],
  failed: ["failed"],
};

/** Moves a host along PATH_TO from wherever it already is on that path. */
export async function walkTo(store: StateStore, host: string, phase: Phase): Promise<void> {
  const path = PATH_TO[phase];
  const current = store.host(host)?.phase;
  if (!current) throw new Error(`no host ${host}`);
  let from = current;
  for (const to of path.slice(path.indexOf(current) + 1)) {
    await store.change(host, { expect: from, to, step: `test: to ${to}` });
    from = to;
  }
}

export interface Fixture {
  readonly directory: string;
  readonly inventory: Inventory;
  readonly store: FileStateStore;
  readonly installerDir: string;
  now: number;
  cleanup(): Promise<void>;
}

export async function fixture(): Promise<Fixture> {
  const directory = await mkdtemp(join(tmpdir(), "metal-test-"));
  const installerDir = join(directory, "installer");
  await mkdir(installerDir);
  await writeFile(join(installerDir, "bzImage"), "kernel");
  await writeFile(join(installerDir, "initrd"), "initrd");
  await writeFile(join(installerDir, "cmdline"), "init=/init loglevel=4\n");
  const inventory = await loadInventory(LAB_INVENTORY);
  const state = { now: 1_000_000 };
  const store = await FileStateStore.open(join(directory, "state"), { clock: () => state.now });
  await store.register(inventory.hosts.map((host) => host.name));
  return Object.assign(state, {
    directory,
    inventory,
    store,
    installerDir,
    async cleanup() {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    },
  });
}
