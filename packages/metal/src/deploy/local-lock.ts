/**
 * One `metal deploy` per state directory on this machine (ADR 0210): the Kubernetes Lease keeps
 * deploys on different machines apart once the API answers, this lock keeps two runs on one
 * machine from writing the same deploy.json, and holds even when the API is unreachable.
 *
 * Each run claims by creating its own file `STATE/deploy.lock.d/PID-RANDOM` and then lists the
 * directory: it holds the lock only when its claim is the only one of a live process. Two runs
 * that claim at the same moment each see the other (each created its file before listing) and
 * both step back; they can never both win. A dead run's claim is removed by whoever sees it, and
 * only a run's own claim is ever removed on release.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isProcessAlive } from "../process-liveness.js";
import { DeployLockedError } from "./errors.js";

export const LOCK_DIRECTORY = "deploy.lock.d";
const CLAIM = /^(\d+)-[0-9a-f]+$/;
const CLAIM_RANDOM_BYTES = 6;

export interface LocalDeployLock {
  release(): Promise<void>;
}

export async function lockDeploy(stateDir: string): Promise<LocalDeployLock> {
  const directory = join(stateDir, LOCK_DIRECTORY);
  await mkdir(directory, { recursive: true });
  const claim = `${process.pid}-${randomBytes(CLAIM_RANDOM_BYTES).toString("hex")}`;
  const path = join(directory, claim);
  await writeFile(path, `${new Date().toISOString()}\n`, { flag: "wx", mode: 0o600 });
  const others: number[] = [];
  for (const entry of await readdir(directory)) {
    if (entry === claim) continue;
    const pid = Number(CLAIM.exec(entry)?.[1]);
    if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid)) others.push(pid);
    // A claim of a process that is gone (or no claim at all) is stale: clear it for everyone.
    else await rm(join(directory, entry), { force: true });
  }
  if (others.length > 0) {
    await rm(path, { force: true });
    throw new DeployLockedError(
      `another metal deploy (pid ${others.join(", ")}) is running with state directory ` +
        `${stateDir}; nothing was changed. Wait for it to finish or stop it, then rerun`,
    );
  }
  return { release: () => rm(path, { force: true }) };
}
