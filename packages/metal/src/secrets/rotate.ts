/**
 * `metal secrets rotate HOST` and `metal secrets add-host HOST`: one host's key changes or
 * appears, and every file its recipient touches follows (`.sops.yaml`, `sops updatekeys`).
 */
import path from "node:path";
import { rename } from "node:fs/promises";
import type { Host } from "../inventory/types.js";
import { ageRecipientFromSshPublicKey } from "./age.js";
import { SecretsError, SopsMissingError, HostNotInInventoryError } from "./errors.js";
import { exists, readIfExists } from "./files.js";
import { privatePaths, REPO_PATHS, repoRootOf } from "./layout.js";
import { reconcileSecrets, type Change, type SecretsContext } from "./reconcile.js";
import { findSops } from "./sops.js";

/** Suffix of the key a rotation replaced; kept until the host runs with the new key. */
export const PREVIOUS_KEY_SUFFIX = ".previous";

export interface HostKeyReport {
  readonly host: string;
  readonly oldRecipient: string | undefined;
  readonly newRecipient: string;
  readonly changes: readonly Change[];
}

export async function rotateHostKey(
  context: SecretsContext,
  hostName: string,
): Promise<HostKeyReport> {
  const host = requireHost(context, hostName);
  const repoRoot = repoRootOf(context.inventory);
  const own = privatePaths(context.secretsDir);
  const keyFile = own.hostKey(host.name);

  // Re-keying is the whole point: check for sops before the old key is moved aside.
  const encrypted = [REPO_PATHS.clusterSecrets, REPO_PATHS.hostSecrets(host.name)];
  const present: string[] = [];
  for (const file of encrypted) if (await exists(path.join(repoRoot, file))) present.push(file);
  if (present.length > 0) {
    const sops = await findSops({
      repoRoot,
      sopsConfig: path.join(repoRoot, REPO_PATHS.sopsConfig),
      ageKeyFile: own.adminAgeKey,
      env: context.env,
    });
    if (sops === undefined) throw new SopsMissingError(present);
  }

  const oldRecipient = await recipientOf(own.hostPublicKey(host.name));
  const moved: Change[] = [];
  if ((await readIfExists(keyFile)) !== undefined) {
    for (const file of [keyFile, `${keyFile}.pub`]) {
      await rename(file, `${file}${PREVIOUS_KEY_SUFFIX}`);
    }
    moved.push({
      path: `${keyFile}${PREVIOUS_KEY_SUFFIX}`,
      action: "kept aside",
      what: "old host key: the running system uses it until it gets the new one",
    });
  }
  const changes = await reconcileSecrets(context, {
    generateFor: new Set([host.name]),
    replacing: host.name,
  });
  return {
    host: host.name,
    oldRecipient,
    newRecipient: await requireRecipient(own.hostPublicKey(host.name), host.name),
    changes: [...moved, ...changes],
  };
}

export async function addHost(context: SecretsContext, hostName: string): Promise<HostKeyReport> {
  const host = requireHost(context, hostName);
  const own = privatePaths(context.secretsDir);
  const changes = await reconcileSecrets(context, { generateFor: new Set([host.name]) });
  return {
    host: host.name,
    oldRecipient: undefined,
    newRecipient: await requireRecipient(own.hostPublicKey(host.name), host.name),
    changes,
  };
}

function requireHost(context: SecretsContext, name: string): Host {
  const host = context.inventory.hosts.find((candidate) => candidate.name === name);
  if (host === undefined) {
    throw new HostNotInInventoryError(
      name,
      context.inventory.hosts.map((candidate) => candidate.name),
    );
  }
  return host;
}

async function recipientOf(publicKeyFile: string): Promise<string | undefined> {
  const publicKey = await readIfExists(publicKeyFile);
  return publicKey === undefined ? undefined : ageRecipientFromSshPublicKey(publicKey);
}

async function requireRecipient(publicKeyFile: string, host: string): Promise<string> {
  const recipient = await recipientOf(publicKeyFile);
  if (recipient === undefined) throw new SecretsError(`no SSH host key was made for ${host}`);
  return recipient;
}
