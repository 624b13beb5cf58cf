/**
 * File writes for the secrets model: atomic (temp file + rename in the same folder), with an
 * explicit mode, and only when the content differs, so a rerun leaves bytes and mtimes alone.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;
export const PUBLIC_FILE_MODE = 0o644;
const PERMISSION_BITS = 0o777;

export type WriteOutcome = "created" | "updated" | "unchanged";

/** Creates `dir` (and parents) 0700, and tightens it to 0700 if it exists with other bits. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const { mode } = await stat(dir);
  if ((mode & PERMISSION_BITS) !== PRIVATE_DIR_MODE) await chmod(dir, PRIVATE_DIR_MODE);
}

export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

export async function exists(file: string): Promise<boolean> {
  return (await readIfExists(file)) !== undefined;
}

/** Writes `content` unless the file already holds exactly that. */
export async function writeIfChanged(
  file: string,
  content: string,
  mode: number,
): Promise<WriteOutcome> {
  const current = await readIfExists(file);
  if (current === content) return "unchanged";
  await writeAtomic(file, content, mode);
  return current === undefined ? "created" : "updated";
}

export async function writeAtomic(file: string, content: string, mode: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(temporary, content, { mode, flag: "wx" });
    await chmod(temporary, mode);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
