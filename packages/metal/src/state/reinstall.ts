/** `--reinstall NAME`: the only way an installed host gets the installer again. */
import { move } from "./lifecycle.js";
import type { StateStore } from "./store.js";
import type { HostRecord } from "./types.js";

export function reinstall(store: StateStore, name: string): Promise<HostRecord> {
  return store.change(name, move("reinstall", "reinstall requested (--reinstall)"));
}
