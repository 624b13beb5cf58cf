/**
 * One `metal` process per state directory: two would overwrite each other's changes
 * (docs/decisions/0180-state-lock-by-link.md).
 *
 * - Acquiring is one link(2): the owner's record (PID, process start time, a random nonce) is
 *   written and fsynced under a private name first, then hard-linked to `lock`. link(2) fails
 *   with EEXIST when `lock` exists, so exactly one racer wins, and nobody ever sees a lock file
 *   without its owner in it (an O_EXCL create followed by a write has that window).
 * - A lock whose owner is gone (kill -9, a reboot: the PID is dead, or reused by a process that
 *   started at another time) is taken over atomically: the taker first wins a guard named after
 *   the dead owner's nonce (the same link(2) race), checks that `lock` still names that owner,
 *   and only then rename(2)s its own record over it. Only the guard's winner can change a lock
 *   whose owner is dead, so two takers can never both believe they hold it.
 * - Release removes `lock` only while it still holds the releasing owner's nonce.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { StateLockedError } from "./errors.js";

export const LOCK_FILE = "lock";
const TAKEOVER_SUFFIX = ".takeover-";
const CANDIDATE_SUFFIX = ".candidate-";
/** A takeover takes microseconds; a guard older than its owner's life is itself taken over. */
const GUARD_RETRY_MS = 5;
const MAX_GUARD_WAITS = 200;
const NONCE_BYTES = 12;

export interface LockOwner {
  readonly pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks after boot); tells a reused PID apart. */
  readonly startTime: string;
  readonly nonce: string;
}

export interface StateLock {
  /** Removes the lock if this process still owns it; a lock someone else holds is left alone. */
  release(): Promise<void>;
}

/** `/proc/PID/stat` field 22 (proc(5)); the command name (field 2) may hold spaces and parens. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function ownerAlive(owner: LockOwner): boolean {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0 || !pidAlive(owner.pid)) return false;
  const startTime = processStartTime(owner.pid);
  // Without /proc (or for a lock written before start times were recorded) the PID decides.
  return startTime === undefined || owner.startTime === "" || startTime === owner.startTime;
}

function formatOwner(owner: LockOwner): string {
  return `${owner.pid}\n${owner.startTime}\n${owner.nonce}\n`;
}

/** Reads a lock record; a legacy lock holds only a PID, and its whole text then is its nonce. */
export function parseOwner(text: string): LockOwner {
  const [pid = "", startTime = "", nonce = ""] = text.split("\n");
  return { pid: Number(pid), startTime, nonce: nonce || `legacy:${text}` };
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    return parseOwner(await readFile(path, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Writes and fsyncs the owner's record under a private name, for link(2) or rename(2). */
async function writeCandidate(path: string, owner: LockOwner): Promise<string> {
  const candidate = `${path}${CANDIDATE_SUFFIX}${owner.nonce}-${randomBytes(4).toString("hex")}`;
  const handle = await open(candidate, "wx", 0o600);
  try {
    await handle.writeFile(formatOwner(owner));
    await handle.sync();
  } finally {
    await handle.close();
  }
  return candidate;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Attempt = { readonly held: true } | { readonly held: false; readonly by: LockOwner };

/**
 * One attempt at `path`: link, or take over from a dead owner. `held: false` names the live owner.
 * `waitForLiveOwner`: for guards, whose live owner finishes in microseconds, wait instead.
 */
async function acquire(
  path: string,
  owner: LockOwner,
  waitForLiveOwner: boolean,
): Promise<Attempt> {
  for (let waits = 0; ;) {
    const candidate = await writeCandidate(path, owner);
    let kept = false;
    try {
      try {
        await link(candidate, path);
        return { held: true };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const current = await readOwner(path);
      if (current === undefined) continue; // released meanwhile: race for it again
      if (ownerAlive(current)) {
        if (!waitForLiveOwner || ++waits > MAX_GUARD_WAITS) return { held: false, by: current };
        await sleep(GUARD_RETRY_MS);
        continue;
      }
      const guard = `${path}${TAKEOVER_SUFFIX}${current.nonce.replace(/[^A-Za-z0-9]/g, "_")}`;
      const guarded = await acquire(guard, owner, true);
      // A taker that stays alive but never finishes (stopped with SIGSTOP) holds the directory.
      if (!guarded.held) return guarded;
      try {
        const still = await readOwner(path);
        if (still?.nonce === current.nonce) {
          await rename(candidate, path);
          kept = true;
          return { held: true };
        }
      } finally {
        // Safe to remove only now: `lock` no longer names the dead owner this guard is for.
        await rm(guard, { force: true });
      }
    } finally {
      if (!kept) await rm(candidate, { force: true });
    }
  }
}

/** Removes `path` only while it names `owner`. */
async function releaseIfOwned(path: string, owner: LockOwner): Promise<void> {
  const current = await readOwner(path);
  // Between this read and the rm only a taker could change the file, and takers act only on
  // locks whose owner is dead: this process is alive.
  if (current?.nonce === owner.nonce) await rm(path, { force: true });
}

export function currentOwner(): LockOwner {
  return {
    pid: process.pid,
    startTime: processStartTime(process.pid) ?? "",
    nonce: randomBytes(NONCE_BYTES).toString("hex"),
  };
}

export async function lockStateDirectory(directory: string): Promise<StateLock> {
  const path = join(directory, LOCK_FILE);
  const owner = currentOwner();
  const attempt = await acquire(path, owner, false);
  if (!attempt.held) throw new StateLockedError(directory, attempt.by.pid);
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      await releaseIfOwned(path, owner);
    },
  };
}
