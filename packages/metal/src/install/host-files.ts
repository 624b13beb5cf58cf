/**
 * The files one install attempt hands its command: the `--extra-files` tree (the host's
 * pre-generated SSH host key from `metal secrets`, plus `/var/lib/metal/callback.env` with the
 * first-boot callback URL and token, docs/callback-protocol.md §3) and a known_hosts file that
 * holds exactly the SSH host key the installer reported in its accepted callback.
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Host } from "../inventory/types.js";
import { buildExtraFiles, type ExtraFiles } from "../secrets/extra-files.js";
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE } from "../secrets/files.js";

/** Where the installed system's first-boot agent looks (callback-protocol §3). */
export const CALLBACK_ENV_TARGET = "var/lib/metal/callback.env";
const TREE_DIR_MODE = 0o755;

/** `KEY=value` lines the agent reads with plain `sed`: no quoting, one per line. */
export function callbackEnv(callbackBaseUrl: string, token: string): string {
  return `METAL_CALLBACK=${callbackBaseUrl}\nMETAL_TOKEN=${token}\n`;
}

/** The host key part of an OpenSSH public key line, without its comment. */
function keyWithoutComment(publicKeyLine: string): string {
  const [type, body] = publicKeyLine.trim().split(/\s+/);
  return `${type} ${body}`;
}

/** One known_hosts line pinning `sshHostKey` for `address` (the installer's IP). */
export function knownHostsFor(address: string, sshHostKey: string): string {
  return `${address} ${keyWithoutComment(sshHostKey)}\n`;
}

export interface AttemptFiles extends ExtraFiles {
  readonly knownHosts: string;
}

/**
 * Builds the extra-files tree in a private temporary directory and writes known_hosts into
 * `workDir`. The caller must call `cleanup` in a `finally` (the tree holds a private key).
 */
export async function prepareAttemptFiles(options: {
  readonly host: Host;
  readonly secretsDir: string;
  readonly workDir: string;
  readonly callbackBaseUrl: string;
  readonly firstBootToken: string;
  readonly installer: { readonly ip: string; readonly sshHostKey: string };
}): Promise<AttemptFiles> {
  const extra = await buildExtraFiles(options.host, options.secretsDir);
  try {
    const envFile = path.join(extra.dir, CALLBACK_ENV_TARGET);
    await mkdir(path.dirname(envFile), { recursive: true });
    for (let dir = path.dirname(envFile); dir.startsWith(extra.dir); dir = path.dirname(dir))
      await chmod(dir, TREE_DIR_MODE);
    await writeFile(envFile, callbackEnv(options.callbackBaseUrl, options.firstBootToken), {
      mode: PRIVATE_FILE_MODE,
    });
    await mkdir(options.workDir, { recursive: true });
    const knownHosts = path.join(options.workDir, "known_hosts");
    await writeFile(knownHosts, knownHostsFor(options.installer.ip, options.installer.sshHostKey), {
      mode: PUBLIC_FILE_MODE,
    });
    return { ...extra, knownHosts };
  } catch (error) {
    await extra.cleanup();
    throw error;
  }
}
