/**
 * One `metal` process per state directory: two would overwrite each other's changes. The lock is
 * a file created exclusively with the owner's PID; a lock whose process is gone (kill -9) is
 * taken over, so a crash never needs a manual cleanup.
 */
import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { StateLockedError } from "./errors.js";

export const LOCK_FILE = "lock";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface StateLock {
  release(): Promise<void>;
}

export async function lockStateDirectory(directory: string): Promise<StateLock> {
  const path = join(directory, LOCK_FILE);
  for (;;) {
    try {
      const handle = await open(path, "wx", 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.sync();
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number((await readFile(path, "utf8").catch(() => "")).trim());
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner))
      throw new StateLockedError(directory, owner);
    // The owner died without releasing (or the file is empty from a crash mid-create): take over.
    await rm(path, { force: true });
  }
}
