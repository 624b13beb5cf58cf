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
 * segments, anything whose real path (after symlinks) leaves the root, and anything that is not
 * a regular file (directories, FIFOs, devices). An absolute path that already names a place
 * inside the root (`/srv/tftp/ipxe.efi` for root `/srv/tftp`) is taken as it is, as dnsmasq
 * does; any other leading `/` is relative to the root, as TFTP clients commonly send
 * `/pxelinux.0`. Symlinks inside the root that stay inside it are followed.
 */
export async function resolveUnderRoot(root: string, requested: string): Promise<RootedFile> {
  if (requested.length === 0) throw new PathRefusedError(requested, "empty path");
  if (requested.includes("\0")) throw new PathRefusedError(requested, "contains a NUL byte");
  if (requested.includes("\\")) throw new PathRefusedError(requested, "contains a backslash");
  const segments = requested.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (segments.includes("..")) throw new PathRefusedError(requested, "contains a .. segment");

  const realRoot = await realpath(root);
  const relative = requested.startsWith("/")
    ? withoutRootPrefix(segments, [path.resolve(root), realRoot])
    : segments;
  if (relative.length === 0) throw new PathRefusedError(requested, "names the root itself");
  const candidate = path.join(realRoot, ...relative);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    throw new PathRefusedError(requested, "no such file", true);
  }
  if (!real.startsWith(realRoot + path.sep)) {
    throw new PathRefusedError(requested, "resolves outside the served root");
  }
  let isFile: boolean;
  let size: number;
  try {
    const info = await stat(real);
    isFile = info.isFile();
    size = info.size;
  } catch {
    // Removed between realpath and stat.
    throw new PathRefusedError(requested, "no such file", true);
  }
  if (!isFile) throw new PathRefusedError(requested, "not a regular file");
  return { path: real, size };
}

/** The segments after a root prefix, when the request spells out one of the root's paths. */
function withoutRootPrefix(segments: readonly string[], roots: readonly string[]): string[] {
  for (const root of roots) {
    const rootSegments = root.split(path.sep).filter(Boolean);
    if (
      rootSegments.length > 0 &&
      rootSegments.length <= segments.length &&
      rootSegments.every((segment, index) => segments[index] === segment)
    ) {
      return segments.slice(rootSegments.length);
    }
  }
  return [...segments];
}
