/**
 * Ed25519 SSH key pairs in the formats OpenSSH writes: `ssh-ed25519 AAAA… COMMENT` for the
 * public half and `-----BEGIN OPENSSH PRIVATE KEY-----` (unencrypted, PROTOCOL.key) for the
 * private half. node:crypto makes the key; sshpk writes and reads the OpenSSH encodings.
 */
import { generateKeyPairSync } from "node:crypto";
import sshpk from "sshpk";
import { SecretsError } from "./errors.js";

export interface SshKeyPair {
  /** OpenSSH private key file content, newline-terminated. */
  readonly privateKey: string;
  /** One authorized_keys line, newline-terminated. */
  readonly publicKey: string;
}

const ED25519_PUBLIC_KEY_BYTES = 32;

export function generateEd25519KeyPair(comment: string): SshKeyPair {
  const { privateKey } = generateKeyPairSync("ed25519");
  const key = sshpk.parsePrivateKey(privateKey.export({ format: "pem", type: "pkcs8" }), "pkcs8");
  key.comment = comment;
  const publicKey = key.toPublic();
  publicKey.comment = comment;
  return {
    privateKey: withNewline(key.toString("ssh-private")),
    publicKey: withNewline(publicKey.toString("ssh")),
  };
}

/** The public key line of an OpenSSH private key file (its comment, else `comment`). */
export function publicKeyOfPrivateKey(privateKey: string, source: string, comment: string): string {
  let key: sshpk.PrivateKey;
  try {
    key = sshpk.parsePrivateKey(privateKey, "ssh");
  } catch (error) {
    throw new SecretsError(
      `${source} is not a readable OpenSSH private key (${(error as Error).message}); restore it from your backup or replace it with \`metal secrets rotate\``,
    );
  }
  const publicKey = key.toPublic();
  publicKey.comment = key.comment || comment;
  return withNewline(publicKey.toString("ssh"));
}

/** The raw 32-byte Ed25519 point of an `ssh-ed25519 …` line. */
export function ed25519PublicKeyBytes(publicKeyLine: string): Uint8Array {
  let key: sshpk.Key;
  try {
    key = sshpk.parseKey(publicKeyLine.trim(), "ssh");
  } catch (error) {
    throw new SecretsError(
      `not an SSH public key: ${JSON.stringify(publicKeyLine.slice(0, 40))}… (${(error as Error).message}); expected "ssh-ed25519 AAAA… comment"`,
    );
  }
  const point =
    key.type === "ed25519" ? key.parts.find((part) => part.name === "A")?.data : undefined;
  if (point === undefined || point.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new SecretsError(
      `SSH public key of type ${key.type} cannot become an age recipient; only ssh-ed25519 keys can (generate one with \`ssh-keygen -t ed25519\`)`,
    );
  }
  return Uint8Array.from(point);
}

/** The `ssh-ed25519 AAAA…` part of a public key line, without its comment. */
export function publicKeyWithoutComment(publicKeyLine: string): string {
  ed25519PublicKeyBytes(publicKeyLine);
  const [type, blob] = publicKeyLine.trim().split(/\s+/);
  return `${type} ${blob}`;
}

function withNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}
