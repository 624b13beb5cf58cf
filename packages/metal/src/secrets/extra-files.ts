/**
 * What `metal install` hands nixos-anywhere for one host: the `--extra-files` tree carrying the
 * pre-generated SSH host key (so sops-nix can decrypt on the very first boot), and the
 * known_hosts line that pins that key for the first SSH to the installed system.
 */
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Host } from "../inventory/types.js";
import { HostKeyMissingError, SecretsError } from "./errors.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, readIfExists } from "./files.js";
import { privatePaths } from "./layout.js";
import { publicKeyOfPrivateKey, publicKeyWithoutComment } from "./ssh-keys.js";
import { isProcessAlive } from "../process-liveness.js";

/** Where sshd and sops-nix (`sops.age.sshKeyPaths`) look on the installed system. */
export const HOST_KEY_TARGET = "etc/ssh/ssh_host_ed25519_key";
/**
 * The tree's own directories as they must be on the target. nixos-anywhere copies the tree's
 * contents onto `/` of the new system, so its top directory stands for `/` itself: it must not
 * carry the 0700 of the private temporary directory that encloses it, whatever the umask.
 */
const TREE_DIR_MODE = 0o755;

/** Another file for the target, e.g. `var/lib/metal/callback.env` (docs/callback-protocol.md §3). */
export interface ExtraFile {
  /** Relative to `/` of the installed system, without `..`. */
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

export interface ExtraFiles {
  /** Pass as `nixos-anywhere --extra-files DIR`. */
  readonly dir: string;
  /** Removes the whole private temporary directory; safe to call twice. */
  cleanup(): Promise<void>;
}

/** Temporary trees are named with the PID of their process, so a later run can sweep them. */
const TEMP_PREFIX = "metal-extra-files-";
const TEMP_NAME = new RegExp(`^${TEMP_PREFIX}(\\d+)-`);

/**
 * Removes extra-files trees left by a metal process that died without its `finally` (SIGKILL,
 * power loss): they hold a host's private key. Returns the paths removed.
 */
export async function removeStaleExtraFiles(directory: string = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(directory).catch(() => [] as string[])) {
    const pid = Number(TEMP_NAME.exec(name)?.[1]);
    if (!pid || isProcessAlive(pid)) continue;
    await rm(path.join(directory, name), { recursive: true, force: true });
    removed.push(path.join(directory, name));
  }
  return removed;
}

/**
 * Copies the host key (and `files`) into a fresh 0700 temporary directory. The caller must call
 * `cleanup` in a `finally`; on error here nothing is left behind.
 */
export async function buildExtraFiles(
  host: Host,
  secretsDir: string,
  files: readonly ExtraFile[] = [],
): Promise<ExtraFiles> {
  for (const file of files) checkTargetPath(file.path);
  const { privateKey, publicKey } = await readHostKey(host, secretsDir);

  const root = await mkdtemp(path.join(tmpdir(), `${TEMP_PREFIX}${process.pid}-${host.name}-`));
  const cleanup = () => rm(root, { recursive: true, force: true });
  try {
    await chmod(root, PRIVATE_DIR_MODE);
    const dir = path.join(root, "root");
    const place = async (relative: string, content: string, mode: number) => {
      const target = path.join(dir, relative);
      await mkdir(path.dirname(target), { recursive: true });
      for (let sub = path.dirname(target); sub.startsWith(dir); sub = path.dirname(sub)) {
        await chmod(sub, TREE_DIR_MODE);
      }
      await writeFile(target, content, { mode, flag: "wx" });
      await chmod(target, mode);
    };
    await place(HOST_KEY_TARGET, privateKey, PRIVATE_FILE_MODE);
    await place(`${HOST_KEY_TARGET}.pub`, publicKey, PUBLIC_FILE_MODE);
    for (const file of files) await place(file.path, file.content, file.mode);
    return { dir, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function checkTargetPath(relative: string): void {
  const normal = path.posix.normalize(relative);
  if (
    path.posix.isAbsolute(relative) ||
    normal === ".." ||
    normal.startsWith("../") ||
    normal === "."
  ) {
    throw new SecretsError(
      `extra file path ${JSON.stringify(relative)} must be relative to / of the target and stay inside it (e.g. "var/lib/metal/callback.env")`,
    );
  }
}

/**
 * `ADDRESS,NAME ssh-ed25519 AAAA…` for a known_hosts file: the installed system answers with
 * the key we generated, so the first connection to it is verified, not trusted on first use.
 */
export async function knownHostsLine(host: Host, secretsDir: string): Promise<string> {
  const { publicKey } = await readHostKey(host, secretsDir);
  return `${host.address},${host.name} ${publicKeyWithoutComment(publicKey)}`;
}

/** The host's private key and the public key computed from it (no separate file to drift). */
async function readHostKey(host: Host, secretsDir: string) {
  const file = privatePaths(secretsDir).hostKey(host.name);
  const privateKey = await readIfExists(file);
  if (privateKey === undefined) throw new HostKeyMissingError(host.name, file);
  return { privateKey, publicKey: publicKeyOfPrivateKey(privateKey, file, `root@${host.name}`) };
}
