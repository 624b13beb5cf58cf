import { spawn, type ChildProcessByStdio } from "node:child_process";
import { access, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StateLockedError } from "../../src/state/errors.js";
import { LOCK_FILE, lockStateDirectory, parseOwner } from "../../src/state/lock.js";

const RACER = new URL("fixtures/lock-racer.ts", import.meta.url).pathname;
const RACERS = 8;
const ROUNDS = 8;
/** Far enough ahead that every racer has read the command before the instant comes. */
const START_DELAY_MS = 150;
/** Above the kernel's pid_max (2^22): a PID that cannot be alive, as after kill -9 and reboot. */
const DEAD_PID = 4194305;

interface Racer {
  readonly child: ChildProcessByStdio<Writable, Readable, null>;
  next(): Promise<string>;
}

function startRacer(directory: string): Promise<Racer> {
  const child = spawn(process.execPath, ["--import", "tsx", RACER, directory], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const line = await lines.next();
    if (line.done) throw new Error("racer exited");
    return line.value;
  };
  return next().then((first) => {
    expect(first).toBe("ready");
    return { child, next };
  });
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe("state directory lock, raced by real processes", () => {
  let directory: string;
  let racers: Racer[];

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "metal-lock-race-"));
    racers = await Promise.all(Array.from({ length: RACERS }, () => startRacer(directory)));
  }, 60_000);
  afterAll(async () => {
    for (const racer of racers) racer.child.kill("SIGKILL");
    await rm(directory, { recursive: true, force: true });
  });

  it("gives the lock to exactly one of N racers, also when a dead owner's lock is taken over", async () => {
    const winnersPerRound: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Even rounds start from a dead owner's lock (takeover race), odd rounds from a free one.
      if (round % 2 === 0) await writeFile(join(directory, LOCK_FILE), `${DEAD_PID}\n`);
      const at = Date.now() + START_DELAY_MS;
      for (const racer of racers) racer.child.stdin.write(`at ${at}\n`);
      const answers = await Promise.all(racers.map((racer) => racer.next()));
      const winners = racers.filter((_, index) => answers[index] === "won");
      winnersPerRound.push(winners.length);
      const winner = winners[0]!;
      expect(parseOwner(await readFile(join(directory, LOCK_FILE), "utf8")).pid).toBe(
        winner.child.pid,
      );
      if (round === ROUNDS - 1 || round % 3 !== 2) {
        winner.child.stdin.write("release\n");
        expect(await winner.next()).toBe("released");
        expect(await exists(join(directory, LOCK_FILE))).toBe(false);
      } else {
        // A crash while holding it: the next round must take over a real dead process's lock.
        const died = new Promise((resolve) => winner.child.once("exit", resolve));
        winner.child.stdin.write("die\n");
        await died;
        racers = racers.filter((racer) => racer !== winner);
      }
    }
    expect(winnersPerRound).toEqual(Array.from({ length: ROUNDS }, () => 1));
    // Guards and candidates of every takeover are gone; only the lock file may be left.
    expect((await readdir(directory)).filter((name) => name !== LOCK_FILE)).toEqual([]);
  }, 120_000);
});

describe("state directory lock ownership", () => {
  it("is not released by a process that no longer owns it", async () => {
    const directory = await mkdtemp(join(tmpdir(), "metal-lock-owner-"));
    try {
      const lock = await lockStateDirectory(directory);
      // Someone else's live lock (this test's parent process, started at another time) replaced ours.
      const foreign = `${process.ppid}\n\nforeign-nonce\n`;
      await writeFile(join(directory, LOCK_FILE), foreign);
      await lock.release();
      expect(await readFile(join(directory, LOCK_FILE), "utf8")).toBe(foreign);
      await expect(lockStateDirectory(directory)).rejects.toThrow(StateLockedError);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it("takes over a lock whose PID was reused by a process that started at another time", async () => {
    const directory = await mkdtemp(join(tmpdir(), "metal-lock-reuse-"));
    try {
      // Our own PID, but a start time this process does not have: the PID was reused.
      await writeFile(join(directory, LOCK_FILE), `${process.pid}\n1\nold-owner\n`);
      const lock = await lockStateDirectory(directory);
      expect(parseOwner(await readFile(join(directory, LOCK_FILE), "utf8")).nonce).not.toBe(
        "old-owner",
      );
      await lock.release();
      expect(await exists(join(directory, LOCK_FILE))).toBe(false);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
