/**
 * age keys (https://age-encryption.org/v1): X25519 recipients `age1…` and identities
 * `AGE-SECRET-KEY-1…`, both Bech32 (BIP 173). A host's recipient is derived from its SSH host
 * key the way `ssh-to-age` and sops-nix do: the Ed25519 point mapped to its Montgomery form.
 */
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { bech32 } from "@scure/base";
import { SecretsError } from "./errors.js";
import { ed25519PublicKeyBytes } from "./ssh-keys.js";

const RECIPIENT_PREFIX = "age";
const IDENTITY_PREFIX = "age-secret-key-";
/** age strings are longer than BIP 173's 90-character limit allows for addresses. */
const AGE_BECH32_LIMIT = 1023;

export interface AgeIdentity {
  /** `AGE-SECRET-KEY-1…` */
  readonly identity: string;
  /** `age1…` */
  readonly recipient: string;
}

export function ageRecipientFromSshPublicKey(publicKeyLine: string): string {
  const montgomery = ed25519.utils.toMontgomery(ed25519PublicKeyBytes(publicKeyLine));
  return encodeRecipient(montgomery);
}

export function generateAgeIdentity(): AgeIdentity {
  const secret = x25519.utils.randomSecretKey();
  return {
    identity: bech32
      .encode(IDENTITY_PREFIX, bech32.toWords(secret), AGE_BECH32_LIMIT)
      .toUpperCase(),
    recipient: encodeRecipient(x25519.getPublicKey(secret)),
  };
}

/** The key file `age-keygen` writes: two comment lines, then the identity. */
export function ageKeyFile(identity: AgeIdentity, created: Date): string {
  return [
    `# created: ${created.toISOString().replace(/\.\d{3}Z$/, "Z")}`,
    `# public key: ${identity.recipient}`,
    identity.identity,
    "",
  ].join("\n");
}

/** The recipient of the identity in an `age-keygen` key file (computed, not read from comments). */
export function recipientOfAgeKeyFile(content: string, source: string): string {
  const identityLine = content.split("\n").find((line) => line.startsWith("AGE-SECRET-KEY-1"));
  if (identityLine === undefined) {
    throw new SecretsError(
      `${source} holds no AGE-SECRET-KEY-1 line; restore the admin age key from your backup`,
    );
  }
  const { words } = bech32.decode(
    identityLine.trim().toLowerCase() as `${string}1${string}`,
    AGE_BECH32_LIMIT,
  );
  return encodeRecipient(x25519.getPublicKey(bech32.fromWords(words)));
}

function encodeRecipient(montgomeryPoint: Uint8Array): string {
  return bech32.encode(RECIPIENT_PREFIX, bech32.toWords(montgomeryPoint), AGE_BECH32_LIMIT);
}
