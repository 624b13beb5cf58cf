/**
 * The deploy's own crash-safe record (`<state>/deploy.json`): which nodes are done, which one is
 * in the middle of which step. Replaced atomically (temp file, fsync, rename, directory fsync)
 * before every step, so a rerun after a crash or a failure resumes where the last one stopped.
 */
import { readFile } from "node:fs/promises";
import { replaceFile } from "../state/durable-file.js";
import { DeployProgressError } from "./errors.js";
import type { DeployStep } from "./events.js";

export interface HostProgress {
  /** The last step started; "done" once the node is deployed and uncordoned. */
  readonly step: DeployStep | "done";
  readonly failed: boolean;
  /**
   * The node was cordoned before this deploy touched it: leave it cordoned afterwards. Unknown
   * until the cordon step first read the node.
   */
  readonly wasUnschedulable: boolean | undefined;
  readonly error: string | undefined;
  readonly updatedAt: number;
}

export interface DeployProgress {
  readonly version: typeof PROGRESS_VERSION;
  readonly deployId: string;
  readonly startedAt: number;
  readonly hosts: Readonly<Record<string, HostProgress>>;
  /** Set when every planned node is done; the next run starts a new deploy. */
  readonly finishedAt: number | undefined;
}

const PROGRESS_VERSION = 1;

export async function loadProgress(file: string): Promise<DeployProgress | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DeployProgressError(
      `${file} is not valid JSON; it records an earlier deploy's progress. Move it aside to start a new deploy`,
    );
  }
  if ((parsed as { version?: unknown }).version !== PROGRESS_VERSION) {
    throw new DeployProgressError(
      `${file} was written by another metal version (expected version ${PROGRESS_VERSION}); ` +
        `move it aside to start a new deploy`,
    );
  }
  return parsed as DeployProgress;
}

export async function saveProgress(file: string, progress: DeployProgress): Promise<void> {
  await replaceFile(file, `${JSON.stringify(progress, null, 2)}\n`);
}

export function newProgress(deployId: string, now: number): DeployProgress {
  return { version: PROGRESS_VERSION, deployId, startedAt: now, hosts: {}, finishedAt: undefined };
}

/**
 * Nodes a previous run changed and left mid-deploy (cordoned, maybe rebooting): a resumed deploy
 * does not count them as unhealthy, fixing them is what it is about to do.
 */
export function unfinishedHosts(progress: DeployProgress): Set<string> {
  return new Set(
    Object.entries(progress.hosts)
      .filter(([, host]) => host.step !== "done" && host.step !== "health")
      .map(([name]) => name),
  );
}

export function completedHosts(progress: DeployProgress): Set<string> {
  return new Set(
    Object.entries(progress.hosts)
      .filter(([, host]) => host.step === "done")
      .map(([name]) => name),
  );
}
