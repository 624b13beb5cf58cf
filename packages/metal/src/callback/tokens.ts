/**
 * Callback tokens (docs/callback-protocol.md §4): 32 random bytes, URL-safe, with a version
 * prefix. Only their SHA-256 is stored, with the attempt, expiry and use; a host keeps one token
 * per purpose, so minting a new one invalidates the older.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../state/file-store.js";
import { stay } from "../state/lifecycle.js";
import type { StateStore } from "../state/store.js";
import type { HostRecord, Phase, TokenPurpose, TokenRecord } from "../state/types.js";

export const TOKEN_PREFIX = "mt1.";
const TOKEN_RANDOM_BYTES = 32;
const HOUR_MS = 60 * 60 * 1000;
export const TOKEN_LIFETIME_MS: Readonly<Record<TokenPurpose, number>> = {
  installer: 2 * HOUR_MS,
  "first-boot": 24 * HOUR_MS,
};
/** Longest token text accepted from a client (the protocol's limit). */
export const MAX_TOKEN_LENGTH = 256;
const TOKEN_CHARACTERS = /^[A-Za-z0-9._-]+$/;

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A fresh token and the record to store for it. */
export function newToken(
  attempt: number,
  purpose: TokenPurpose,
  now: number,
): { token: string; record: TokenRecord } {
  const token = `${TOKEN_PREFIX}${randomBytes(TOKEN_RANDOM_BYTES).toString("base64url")}`;
  return {
    token,
    record: {
      sha256: hashToken(token),
      attempt,
      issuedAt: now,
      expiresAt: now + TOKEN_LIFETIME_MS[purpose],
    },
  };
}

function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}

export type TokenCheck =
  | { readonly ok: true; readonly host: HostRecord; readonly record: TokenRecord }
  | { readonly ok: false; readonly reason: string };

/** Finds the host a presented token belongs to and says why it cannot be used, if it cannot. */
export function checkToken(
  hosts: Iterable<HostRecord>,
  token: string | undefined,
  purpose: TokenPurpose,
  now: number,
): TokenCheck {
  if (token === undefined || token === "") return { ok: false, reason: "missing bearer token" };
  if (token.length > MAX_TOKEN_LENGTH || !TOKEN_CHARACTERS.test(token)) {
    return { ok: false, reason: "malformed token" };
  }
  const hash = hashToken(token);
  for (const host of hosts) {
    const record = host.tokens[purpose];
    if (!record || !sameHash(record.sha256, hash)) continue;
    if (record.usedAt !== undefined) {
      return { ok: false, reason: `token of host "${host.name}" was already used (a replay)` };
    }
    if (now >= record.expiresAt) {
      return {
        ok: false,
        reason: `token of host "${host.name}" expired at ${new Date(record.expiresAt).toISOString()}`,
      };
    }
    return { ok: true, host, record };
  }
  return {
    ok: false,
    reason: `unknown ${purpose} token (never issued, or replaced by a newer one)`,
  };
}

/** Phases in which the install prepares the first-boot token (it travels in --extra-files). */
const FIRST_BOOT_MINT_PHASES: readonly Phase[] = ["installer", "installing"];

/**
 * Mints the host's first-boot token for the current attempt; the orchestrator writes it into
 * `/var/lib/metal/callback.env` of the extra files. Not valid for hosts past the install.
 */
export async function mintFirstBootToken(
  store: StateStore,
  host: string,
  clock: Clock = Date.now,
): Promise<string> {
  let token = "";
  await store.change(
    host,
    stay(FIRST_BOOT_MINT_PHASES, "first-boot token minted", {
      update: (current) => {
        const minted = newToken(current.attempt, "first-boot", clock());
        token = minted.token;
        return { tokens: { ...current.tokens, "first-boot": minted.record } };
      },
    }),
  );
  return token;
}
