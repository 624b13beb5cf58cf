/** Where the state lives when no `--state DIR` is given: `.metal/` next to the inventory file. */
import { dirname, join, resolve } from "node:path";

export const DEFAULT_STATE_DIR_NAME = ".metal";

export function defaultStateDir(inventoryPath: string): string {
  return join(dirname(resolve(inventoryPath)), DEFAULT_STATE_DIR_NAME);
}
