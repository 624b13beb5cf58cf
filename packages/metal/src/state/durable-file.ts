/**
 * Crash-safe file writes. A replaced file is written to a temporary name, fsynced, renamed over
 * the old one and its directory fsynced, so after a crash (or kill -9) the file holds either the
 * old or the new content, never a mix. write-file-atomic does all but the directory fsync, which
 * is what makes the rename itself survive a power cut (rename(2) is atomic, not durable).
 */
import { randomBytes } from "node:crypto";
import { open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

const TEMP_MARKER = ".tmp-";

async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function replaceFile(path: string, content: string): Promise<void> {
  const temp = `${path}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString("hex")}`;
  const handle = await open(temp, "w", 0o600);
  try {
    await handle.writeFile(content, "utf8");
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temp, path);
  await fsyncDirectory(dirname(path));
}

/** Appends one line and fsyncs it: a crash loses at most the line being written. */
export async function appendLine(path: string, line: string): Promise<void> {
  const handle = await open(path, "a", 0o600);
  try {
    await handle.appendFile(`${line}\n`, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes temporary files a crash left behind next to `path`. */
export async function removeStaleTemps(path: string): Promise<void> {
  const prefix = `${basename(path)}${TEMP_MARKER}`;
  const entries = await readdir(dirname(path)).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((entry) => entry.startsWith(prefix))
      .map((entry) => rm(join(dirname(path), entry), { force: true })),
  );
}
