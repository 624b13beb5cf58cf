/**
 * The files servers hand to network clients live in a private directory of their own: the
 * first stages the server hands out, copied from the configured first-stage directory at start
 * (docs/decisions/0002 and 0160). Only the named files are copied, never the whole directory,
 * and a symlink is followed only when its target stays inside that directory or is one of the
 * known packaged locations (Debian's `ipxe` package links `/usr/lib/ipxe/ipxe.efi` to
 * `/boot/ipxe.efi`). Any other link that leaves the directory stops the start: a link to
 * `/etc/shadow` dropped into `--ipxe-dir` must not become a file every LAN client can fetch.
 */
import { constants } from "node:fs";
import { mkdir, open, realpath, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { ConfigError } from "../errors.js";

/** Largest file staged: first stages are about 1 MiB; this keeps a wrong directory cheap. */
export const MAX_FIRST_STAGE_BYTES = 64 * 1024 * 1024;

/**
 * Targets outside the first-stage directory a link may resolve to: where a distribution package
 * puts the real file. Debian 12's `ipxe` package (1.0.0+git-20190125.36a4c85-5.1) ships
 * `/boot/ipxe.efi` and the link `/usr/lib/ipxe/ipxe.efi` → `/boot/ipxe.efi` (`dpkg -L ipxe`;
 * its `/etc/grub.d/20_ipxe` chainloads the same file).
 */
export const PACKAGED_FIRST_STAGE_TARGETS: readonly string[] = ["/boot/ipxe.efi"];

const STAGED_FILE_MODE = 0o600;
const STAGE_DIR_MODE = 0o700;

/**
 * Copies the first stages named in `names` from `sourceDir` into `root` (created 0700, must not
 * exist yet) and returns the names copied. A name absent from `sourceDir` is skipped (the caller
 * decides whether enough are left). Throws a ConfigError, leaving nothing behind, for a name
 * that is not a relative path without `..`, a link leaving `sourceDir` (unless to an allowed target), or
 * something other than a regular file of at most MAX_FIRST_STAGE_BYTES.
 */
export async function stageFirstStages(
  sourceDir: string,
  root: string,
  names: readonly string[],
  allowedTargets: readonly string[] = PACKAGED_FIRST_STAGE_TARGETS,
): Promise<string[]> {
  let realDir: string;
  try {
    realDir = await realpath(sourceDir);
  } catch {
    throw new ConfigError(
      `first-stage directory ${sourceDir} cannot be read (install Debian's ipxe package, or pass a directory of iPXE binaries)`,
    );
  }
  await mkdir(root, { mode: STAGE_DIR_MODE });
  const staged: string[] = [];
  try {
    for (const name of [...new Set(names)].sort()) {
      const target = await stageSource(sourceDir, realDir, name, allowedTargets);
      if (target === undefined) continue;
      await mkdir(path.dirname(path.join(root, name)), { recursive: true, mode: STAGE_DIR_MODE });
      await copyRegularFile(target, path.join(root, name), `${sourceDir}/${name}`);
      staged.push(name);
    }
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return staged;
}

/** The real path to copy for `name`, undefined when there is nothing there. */
async function stageSource(
  sourceDir: string,
  realDir: string,
  name: string,
  allowedTargets: readonly string[],
): Promise<string | undefined> {
  const segments = name.split("/");
  if (
    path.isAbsolute(name) ||
    name.includes("\0") ||
    name.includes("\\") ||
    segments.some((segment) => segment === "" || segment === "." || segment === "..")
  ) {
    throw new ConfigError(
      `first stage ${JSON.stringify(name)} is not a relative file name: name a file inside ${sourceDir}, e.g. ipxe.efi or arm64/snp.efi`,
    );
  }
  let target: string;
  try {
    target = await realpath(path.join(realDir, name));
  } catch {
    return undefined;
  }
  if (target.startsWith(realDir + path.sep) || allowedTargets.includes(target)) return target;
  throw new ConfigError(
    `first stage ${sourceDir}/${name} is a link to ${target}, outside ${sourceDir}: ` +
      `links may only point inside that directory (or to ${allowedTargets.join(", ")}); ` +
      `copy the binary itself into the directory (cp -L) or remove the link`,
  );
}

/**
 * Copies from a descriptor checked to be a regular file of acceptable size. O_NONBLOCK: opening
 * a FIFO would otherwise wait for a writer forever (it has no effect on regular files).
 */
async function copyRegularFile(source: string, destination: string, shownAs: string) {
  const input = await open(
    source,
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  );
  try {
    const info = await input.stat();
    if (!info.isFile()) {
      throw new ConfigError(`first stage ${shownAs} is not a regular file: name an iPXE binary`);
    }
    if (info.size > MAX_FIRST_STAGE_BYTES) {
      throw new ConfigError(
        `first stage ${shownAs} has ${info.size} bytes, more than the ${MAX_FIRST_STAGE_BYTES} ` +
          `a first stage may have: name an iPXE binary (about 1 MiB)`,
      );
    }
    const output = await open(destination, "wx", STAGED_FILE_MODE);
    try {
      await pipeline(input.createReadStream({ autoClose: false }), output.createWriteStream());
    } finally {
      await output.close().catch(() => undefined);
    }
  } finally {
    await input.close().catch(() => undefined);
  }
}
