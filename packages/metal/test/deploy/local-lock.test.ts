import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DeployLockedError } from "../../src/deploy/errors.js";
import { LOCK_DIRECTORY, lockDeploy } from "../../src/deploy/local-lock.js";

const CONTENDERS = 20;

describe("the local deploy lock", () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "metal-lock-"));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lets one deploy hold a state directory; a second is refused until the first releases", async () => {
    const first = await lockDeploy(dir);
    await expect(lockDeploy(dir)).rejects.toThrow(DeployLockedError);
    await expect(lockDeploy(dir)).rejects.toThrow(
      new RegExp(`another metal deploy \\(pid ${process.pid}\\) is running`),
    );
    await first.release();
    const second = await lockDeploy(dir);
    await second.release();
    expect(await readdir(join(dir, LOCK_DIRECTORY))).toEqual([]);
  });

  it("never grants the lock twice when many deploys claim it at the same moment", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: CONTENDERS }, () => lockDeploy(dir)),
    );
    const granted = results.filter((result) => result.status === "fulfilled");
    expect(granted.length).toBeLessThanOrEqual(1);
    for (const result of results) {
      if (result.status === "rejected") expect(result.reason).toBeInstanceOf(DeployLockedError);
    }
  });

  it("clears the claim of a deploy that died (kill -9) and lets the next one in", async () => {
    const dead = await execa("sh", ["-c", "echo $$"]);
    await mkdir(join(dir, LOCK_DIRECTORY), { recursive: true });
    await writeFile(join(dir, LOCK_DIRECTORY, `${dead.stdout.trim()}-0badc0de`), "");

    const lock = await lockDeploy(dir);

    expect(await readdir(join(dir, LOCK_DIRECTORY))).toHaveLength(1);
    await lock.release();
  });

  it("releases only its own claim", async () => {
    const held = await lockDeploy(dir);
    await expect(lockDeploy(dir)).rejects.toThrow(DeployLockedError);
    // The refused run cleaned up after itself and left the holder's claim alone.
    expect(await readdir(join(dir, LOCK_DIRECTORY))).toHaveLength(1);
    await held.release();
  });
});
