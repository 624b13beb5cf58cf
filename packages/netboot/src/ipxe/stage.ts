/**
 * The files servers hand to network clients live in a private directory of their own: the
 * configured first-stage directory's regular files, copied with symlinks followed. Debian links
 * `/usr/lib/ipxe/ipxe.efi` to `/boot/ipxe.efi`; serving the package directory directly would
 * make the rooted-path check refuse it (it leaves the root), and loosening that check for
 * everyone is not an option. Following links here is safe: the directory is the operator's
 * choice, not a client's.
 */
import { copyFile, mkdir, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { ConfigError } from "../errors.js";

/** Largest file staged: first stages are about 1 MiB; this keeps a wrong directory cheap. */
export const MAX_FIRST_STAGE_BYTES = 64 * 1024 * 1024;

/**
 * Copies the regular files of `sourceDir` into `root` (created 0700, must not exist yet) and
 * returns their names. On failure nothing is left behind.
 */
export async function stageFirstStages(sourceDir: string, root: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(sourceDir);
  } catch {
    throw new ConfigError(
      `first-stage directory ${sourceDir} cannot be read (install Debian's ipxe package, or pass a directory of iPXE binaries)`,
    );
  }
  await mkdir(root, { mode: 0o700 });
  const files: string[] = [];
  try {
    for (const name of names.sort()) {
      const source = path.join(sourceDir, name);
      const info = await stat(source).catch(() => undefined);
      if (!info?.isFile() || info.size > MAX_FIRST_STAGE_BYTES) continue;
      await copyFile(source, path.join(root, name));
      files.push(name);
    }
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return files;
}
