/**
 * The keys the virtual lab needs, in the layout of `metal secrets` (privatePaths): the admin SSH
 * key (root's authorized key in the stand-in installer) and each host's pre-generated SSH host
 * key (what the installed system presents at first boot). The lab has no use for sops and the
 * encrypted k3s secrets, so it makes only these, and only when missing.
 */
import path from "node:path";
import type { Inventory } from "../inventory/types.js";
import {
  ensurePrivateDir,
  exists,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  writeAtomic,
} from "../secrets/files.js";
import { privatePaths } from "../secrets/layout.js";
import { generateEd25519KeyPair } from "../secrets/ssh-keys.js";

async function ensureKeyPair(
  privateFile: string,
  publicFile: string,
  comment: string,
): Promise<void> {
  if (await exists(privateFile)) return;
  await ensurePrivateDir(path.dirname(privateFile));
  const pair = generateEd25519KeyPair(comment);
  await writeAtomic(privateFile, pair.privateKey, PRIVATE_FILE_MODE);
  await writeAtomic(publicFile, pair.publicKey, PUBLIC_FILE_MODE);
}

/** Makes the missing keys under `secretsDir`; existing ones are kept. */
export async function ensureLabKeys(inventory: Inventory, secretsDir: string): Promise<void> {
  const paths = privatePaths(secretsDir);
  await ensureKeyPair(
    paths.adminSshKey,
    paths.adminSshPublicKey,
    `admin@${inventory.cluster.name}`,
  );
  for (const host of inventory.hosts)
    await ensureKeyPair(
      paths.hostKey(host.name),
      paths.hostPublicKey(host.name),
      `root@${host.name}`,
    );
}

export function labSecretsDir(workDir: string): string {
  return path.join(workDir, "secrets");
}
