/**
 * The security boundary of every file server in this library: ONE function that maps a path a
 * network client asked for to a regular file inside a served root, or refuses. TFTP and HTTP
 * both go through it; nothing else opens client-named files.
 */
import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { PathRefusedError } from "./errors.js";

export interface RootedFile {
  /** Absolute, symlink-free path of the file. */
  readonly path: string;
  readonly size: number;
}

/**
 * Resolves `requested` (as a client sent it) under `root`. Refuses NUL bytes, backslashes, `..`
 * segments, absolute paths that are not under the root, anything whose real path (after
 * symlinks) leaves the root, and anything that is not a regular file. A leading `/` is treated
 * as relative to the root, as TFTP clients commonly send `/pxelinux.0`.
 */
export async function resolveUnderRoot(root: string, requested: string): Promise<RootedFile> {
  if (requested.length === 0) throw new PathRefusedError(requested, "empty path");
  if (requested.includes("\0")) throw new PathRefusedError(requested, "contains a NUL byte");
  if (requested.includes("\\")) throw new PathRefusedError(requested, "contains a backslash");
  const segments = requested.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (segments.includes("..")) throw new PathRefusedError(requested, "contains a .. segment");
  if (segments.length === 0) throw new PathRefusedError(requested, "names the root itself");

  const realRoot = await realpath(root);
  const candidate = path.join(realRoot, ...segments);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    throw new PathRefusedError(requested, "no such file");
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw new PathRefusedError(requested, "resolves outside the served root");
  }
  const info = await stat(real);
  if (!info.isFile()) throw new PathRefusedError(requested, "not a regular file");
  return { path: real, size: info.size };
}
