/**
 * What `metal install` hands nixos-anywhere for one host: the `--extra-files` tree carrying the
 * pre-generated SSH host key (so sops-nix can decrypt on the very first boot), and the
 * known_hosts line that pins that key for the first SSH to the installed system.
 */
import { chmod, copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Host } from "../inventory/types.js";
import { HostKeyMissingError } from "./errors.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, readIfExists } from "./files.js";
import { privatePaths } from "./layout.js";
import { publicKeyWithoutComment } from "./ssh-keys.js";

/** Where sshd and sops-nix (`sops.age.sshKeyPaths`) look on the installed system. */
export const HOST_KEY_TARGET = "etc/ssh/ssh_host_ed25519_key";
/**
 * The tree's own directories as they must be on the target. nixos-anywhere copies the tree's
 * contents onto `/` of the new system, so its top directory stands for `/` itself: it must not
 * carry the 0700 of the private temporary directory that encloses it, whatever the umask.
 */
const TREE_DIR_MODE = 0o755;

export interface ExtraFiles {
  /** Pass as `nixos-anywhere --extra-files DIR`. */
  readonly dir: string;
  /** Removes the whole private temporary directory; safe to call twice. */
  cleanup(): Promise<void>;
}

/**
 * Copies the host key into a fresh 0700 temporary directory. The caller must call `cleanup`
 * in a `finally`; on error here nothing is left behind.
 */
export async function buildExtraFiles(host: Host, secretsDir: string): Promise<ExtraFiles> {
  const own = privatePaths(secretsDir);
  const source = own.hostKey(host.name);
  if ((await readIfExists(source)) === undefined) throw new HostKeyMissingError(host.name, source);

  const root = await mkdtemp(path.join(tmpdir(), `metal-extra-files-${host.name}-`));
  const cleanup = () => rm(root, { recursive: true, force: true });
  try {
    await chmod(root, PRIVATE_DIR_MODE);
    const dir = path.join(root, "root");
    const target = path.join(dir, HOST_KEY_TARGET);
    await mkdir(path.dirname(target), { recursive: true });
    for (let sub = path.dirname(target); sub.startsWith(dir); sub = path.dirname(sub)) {
      await chmod(sub, TREE_DIR_MODE);
    }
    await copyFile(source, target);
    await chmod(target, PRIVATE_FILE_MODE);
    await copyFile(own.hostPublicKey(host.name), `${target}.pub`);
    await chmod(`${target}.pub`, PUBLIC_FILE_MODE);
    return { dir, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * `ADDRESS,NAME ssh-ed25519 AAAA…` for a known_hosts file: the installed system answers with
 * the key we generated, so the first connection to it is verified, not trusted on first use.
 */
export async function knownHostsLine(host: Host, secretsDir: string): Promise<string> {
  const file = privatePaths(secretsDir).hostPublicKey(host.name);
  const publicKey = await readIfExists(file);
  if (publicKey === undefined) throw new HostKeyMissingError(host.name, file);
  return `${host.address},${host.name} ${publicKeyWithoutComment(publicKey)}`;
}
