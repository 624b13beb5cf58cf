/**
 * Brings the secrets of a cluster in line with its inventory: keys that are missing are made,
 * public halves and `.sops.yaml` are written to the repository, encrypted files are created or
 * re-keyed with sops. Everything that exists and is right is left byte-for-byte alone.
 *
 * Two phases: first everything is read or generated in memory and the need for sops decided;
 * only then is anything written, so a missing sops stops the run before any file changes.
 */
import path from "node:path";
import { stringify } from "yaml";
import type { Inventory } from "../inventory/types.js";
import {
  ageKeyFile,
  ageRecipientFromSshPublicKey,
  generateAgeIdentity,
  recipientOfAgeKeyFile,
} from "./age.js";
import { SecretsError, SopsMissingError } from "./errors.js";
import {
  ensurePrivateDir,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  readIfExists,
  writeAtomic,
  writeIfChanged,
} from "./files.js";
import { privatePaths, REPO_PATHS, repoRootOf, SECRET_KEYS } from "./layout.js";
import { recipientsByFile, renderSopsConfig, type HostRecipient } from "./sops-config.js";
import { findSops, recipientsOfEncryptedFile } from "./sops.js";
import { generateEd25519KeyPair, publicKeyOfPrivateKey } from "./ssh-keys.js";
import { generateSecret } from "./tokens.js";

export interface SecretsContext {
  readonly inventory: Inventory;
  readonly secretsDir: string;
  /** Environment for sops (PATH decides which sops runs). */
  readonly env: NodeJS.ProcessEnv;
}

/** One line of a command's summary: a file, what happened to it, and what it is. */
export interface Change {
  /** Repository-relative for repository files, absolute for private ones. */
  readonly path: string;
  readonly action: "created" | "updated" | "re-encrypted" | "kept aside";
  readonly what: string;
}

export interface ReconcileOptions {
  /** Hosts that may get a new SSH host key; all inventory hosts when absent. */
  readonly generateFor?: ReadonlySet<string>;
  /** A host whose private key was moved aside on purpose (rotate): its old public key may go. */
  readonly replacing?: string;
}

interface SshKeyState {
  readonly privateKey: string;
  readonly publicKey: string;
  readonly generated: boolean;
}

export async function reconcileSecrets(
  context: SecretsContext,
  options: ReconcileOptions = {},
): Promise<readonly Change[]> {
  const { inventory, secretsDir } = context;
  const repoRoot = repoRootOf(inventory);
  const inRepo = (relative: string) => path.join(repoRoot, relative);
  const own = privatePaths(secretsDir);

  const adminSsh = await loadOrGenerateSshKey(
    own.adminSshKey,
    inRepo(REPO_PATHS.adminPublicKey),
    `metal-admin@${inventory.cluster.name}`,
  );
  const adminAge = await loadOrGenerateAgeKey(
    own.adminAgeKey,
    inRepo(REPO_PATHS.adminAgeRecipient),
  );

  const hostRecipients: Array<HostRecipient & { readonly key: SshKeyState }> = [];
  for (const host of inventory.hosts) {
    const privateFile = own.hostKey(host.name);
    const mayGenerate = options.generateFor?.has(host.name) ?? true;
    if (!mayGenerate && (await readIfExists(privateFile)) === undefined) continue;
    const key = await loadOrGenerateSshKey(
      privateFile,
      host.name === options.replacing ? undefined : inRepo(REPO_PATHS.hostPublicKey(host.name)),
      `root@${host.name}`,
    );
    const recipient = ageRecipientFromSshPublicKey(key.publicKey);
    hostRecipients.push({ host: host.name, key, recipient });
  }
  const recipients = { admin: adminAge.recipient, hosts: hostRecipients };
  const sopsConfig = renderSopsConfig(recipients);

  const toEncrypt: string[] = [];
  const toUpdate: string[] = [];
  for (const [file, wanted] of recipientsByFile(recipients)) {
    const current = await readIfExists(inRepo(file));
    if (current === undefined) toEncrypt.push(file);
    else if (!sameSet(recipientsOfEncryptedFile(current), wanted)) toUpdate.push(file);
  }

  const sopsOptions = {
    repoRoot,
    sopsConfig: inRepo(REPO_PATHS.sopsConfig),
    ageKeyFile: own.adminAgeKey,
    env: context.env,
  };
  const needsSops = toEncrypt.length + toUpdate.length > 0;
  const sops = needsSops ? await findSops(sopsOptions) : undefined;
  if (needsSops && sops === undefined) throw new SopsMissingError([...toEncrypt, ...toUpdate]);

  // Phase two: write.
  const changes: Change[] = [];
  const note = (file: string, action: Change["action"], what: string) =>
    changes.push({ path: file, action, what });

  await ensurePrivateDir(secretsDir);
  await ensurePrivateDir(own.adminDir);
  if (hostRecipients.length > 0) await ensurePrivateDir(own.hostsDir);
  for (const { host } of hostRecipients) await ensurePrivateDir(own.hostDir(host));

  const writeSshKey = async (privateFile: string, key: SshKeyState, what: string) => {
    if (!key.generated) return;
    await writeAtomic(privateFile, key.privateKey, PRIVATE_FILE_MODE);
    await writeAtomic(`${privateFile}.pub`, key.publicKey, PUBLIC_FILE_MODE);
    note(privateFile, "created", `${what}, private, mode 0600`);
  };
  await writeSshKey(own.adminSshKey, adminSsh, "admin SSH key");
  if (adminAge.generated) {
    await writeAtomic(own.adminAgeKey, adminAge.fileContent, PRIVATE_FILE_MODE);
    note(own.adminAgeKey, "created", "admin age identity, private, mode 0600");
  }
  for (const { host, key } of hostRecipients) {
    await writeSshKey(own.hostKey(host), key, `SSH host key of ${host}`);
  }

  const publish = async (relative: string, content: string, what: string) => {
    const outcome = await writeIfChanged(inRepo(relative), content, PUBLIC_FILE_MODE);
    if (outcome !== "unchanged") note(relative, outcome, what);
  };
  await publish(REPO_PATHS.adminPublicKey, adminSsh.publicKey, "admin SSH public key");
  await publish(REPO_PATHS.adminAgeRecipient, `${adminAge.recipient}\n`, "admin age recipient");
  for (const { host, key, recipient } of hostRecipients) {
    await publish(REPO_PATHS.hostPublicKey(host), key.publicKey, `SSH host key of ${host}`);
    await publish(REPO_PATHS.hostAgeRecipient(host), `${recipient}\n`, `age recipient of ${host}`);
  }
  await publish(REPO_PATHS.sopsConfig, sopsConfig, "sops creation rules");

  if (sops !== undefined) {
    for (const file of toEncrypt) {
      const encrypted = await sops.encryptYaml(file, plaintextFor(file));
      await writeAtomic(inRepo(file), encrypted, PUBLIC_FILE_MODE);
      note(file, "created", `encrypted with sops for ${describeRecipients(file, hostRecipients)}`);
    }
    for (const file of toUpdate) {
      await sops.updateKeys(file);
      note(file, "re-encrypted", `sops updatekeys: ${describeRecipients(file, hostRecipients)}`);
    }
  }
  return changes;
}

function plaintextFor(file: string): string {
  const values =
    file === REPO_PATHS.clusterSecrets
      ? { [SECRET_KEYS.k3sToken]: generateSecret() }
      : { [SECRET_KEYS.nodePassword]: generateSecret() };
  return stringify(values);
}

function describeRecipients(file: string, hosts: readonly HostRecipient[]): string {
  if (file === REPO_PATHS.clusterSecrets) {
    return `admin + ${hosts.length} host(s): ${hosts.map((h) => h.host).join(", ")}`;
  }
  const host = hosts.find((h) => REPO_PATHS.hostSecrets(h.host) === file);
  return `admin + ${host?.host ?? "?"}`;
}

async function loadOrGenerateSshKey(
  privateFile: string,
  publishedPublicKey: string | undefined,
  comment: string,
): Promise<SshKeyState> {
  const existing = await readIfExists(privateFile);
  if (existing !== undefined) {
    const publicKey = publicKeyOfPrivateKey(existing, privateFile, comment);
    return { privateKey: existing, publicKey, generated: false };
  }
  if (publishedPublicKey !== undefined && (await readIfExists(publishedPublicKey)) !== undefined) {
    throw new SecretsError(
      `${publishedPublicKey} exists but its private key ${privateFile} does not: point --secrets-dir ` +
        `(or $METAL_SECRETS_DIR) at the directory that holds it, or replace the key on purpose ` +
        `with \`metal secrets rotate\`.`,
    );
  }
  return { ...generateEd25519KeyPair(comment), generated: true };
}

async function loadOrGenerateAgeKey(privateFile: string, publishedRecipient: string) {
  const existing = await readIfExists(privateFile);
  if (existing !== undefined) {
    return {
      recipient: recipientOfAgeKeyFile(existing, privateFile),
      fileContent: existing,
      generated: false,
    };
  }
  if ((await readIfExists(publishedRecipient)) !== undefined) {
    throw new SecretsError(
      `${publishedRecipient} exists but the admin age key ${privateFile} does not: point ` +
        `--secrets-dir at the directory that holds it (without it the encrypted files cannot be re-keyed).`,
    );
  }
  const identity = generateAgeIdentity();
  return {
    recipient: identity.recipient,
    fileContent: ageKeyFile(identity, new Date()),
    generated: true,
  };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  return left.size === new Set(b).size && b.every((item) => left.has(item));
}
