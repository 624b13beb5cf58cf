/**
 * Which host keys and which login key a deploy's SSH connections use. Host keys come from, in
 * order: `--known-hosts FILE`; the host keys `metal secrets` generated before install (the
 * installed systems answer with exactly those), written as `STATE/deploy-known_hosts`; an
 * existing `STATE/known_hosts`. The login key: `--identity FILE`, else the admin key in the
 * secrets directory when it exists, else the ssh agent and default keys.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Inventory } from "../inventory/types.js";
import { replaceFile } from "../state/durable-file.js";
import {
  HostKeyMissingError,
  knownHostsLine,
  privatePaths,
  resolveSecretsDir,
} from "../secrets/index.js";
import { DeployUsageError } from "./errors.js";

export interface SshTrustFlags {
  readonly knownHosts: string | undefined;
  readonly identity: string | undefined;
  readonly secretsDir: string | undefined;
}

export interface SshTrust {
  readonly knownHostsFile: string;
  readonly identityFile: string | undefined;
}

/** `dryRun`: decide the same way, but write nothing. */
export async function resolveSshTrust(
  inventory: Inventory,
  stateDir: string,
  flags: SshTrustFlags,
  dryRun: boolean,
): Promise<SshTrust> {
  const secretsDir = resolveSecretsDir(inventory, flags.secretsDir);
  const adminKey = privatePaths(secretsDir).adminSshKey;
  const identityFile = flags.identity
    ? resolve(flags.identity)
    : existsSync(adminKey)
      ? adminKey
      : undefined;
  if (flags.knownHosts) return { knownHostsFile: resolve(flags.knownHosts), identityFile };

  const pinned = await pinnedHostKeys(inventory, secretsDir);
  if (pinned.lines) {
    const generated = join(stateDir, "deploy-known_hosts");
    if (!dryRun) {
      await mkdir(stateDir, { recursive: true });
      await replaceFile(generated, `${pinned.lines.join("\n")}\n`);
    }
    return { knownHostsFile: generated, identityFile };
  }
  const stateFile = join(stateDir, "known_hosts");
  if (existsSync(stateFile) || dryRun) return { knownHostsFile: stateFile, identityFile };
  throw new DeployUsageError(
    `no pinned SSH host keys: ${pinned.missing}. metal connects to the nodes only with pinned ` +
      `host keys: generate them with \`metal secrets init\` before install, or pass ` +
      `--known-hosts FILE with one "ADDRESS ssh-ed25519 AAAA…" line per node`,
  );
}

async function pinnedHostKeys(
  inventory: Inventory,
  secretsDir: string,
): Promise<{ lines: string[]; missing?: undefined } | { lines?: undefined; missing: string }> {
  try {
    return {
      lines: await Promise.all(inventory.hosts.map((host) => knownHostsLine(host, secretsDir))),
    };
  } catch (error) {
    if (error instanceof HostKeyMissingError) return { missing: error.message };
    throw error;
  }
}
