/**
 * BMC credentials: `<secretsDir>/hosts/<host>/bmc.json`, `{ "username": "…", "password": "…" }`,
 * mode 0600, in the private secrets directory (never the repository; ADR 0080, ADR 0200).
 * Refused when others may read it, as ssh refuses a private key with loose permissions.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { privatePaths } from "../secrets/layout.js";
import { PowerCredentialsError } from "./errors.js";

export interface BmcCredentials {
  readonly username: string;
  readonly password: string;
}

export const BMC_CREDENTIALS_FILE = "bmc.json";
/** Group and others: no bits at all. */
const OTHERS_MASK = 0o077;
/** IPMI 2.0 user names are at most 16 bytes, passwords at most 20. */
const MAX_USERNAME_BYTES = 16;
const MAX_PASSWORD_BYTES = 20;

export function bmcCredentialsPath(secretsDir: string, host: string): string {
  return path.join(privatePaths(secretsDir).hostDir(host), BMC_CREDENTIALS_FILE);
}

function howToWrite(file: string): string {
  return (
    `write it with: (umask 077; printf '{"username": "%s", "password": "%s"}\\n' USER PASSWORD > ${file}) ` +
    "(docs/power.md)"
  );
}

export async function loadBmcCredentials(
  secretsDir: string,
  host: string,
): Promise<BmcCredentials> {
  const file = bmcCredentialsPath(secretsDir, host);
  const info = await stat(file).catch(() => undefined);
  if (!info)
    throw new PowerCredentialsError(
      `host "${host}": no BMC credentials at ${file}; ${howToWrite(file)}`,
    );
  if ((info.mode & OTHERS_MASK) !== 0)
    throw new PowerCredentialsError(
      `host "${host}": ${file} is readable by others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 ${file}`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new PowerCredentialsError(
      `host "${host}": ${file} is not valid JSON (${(error as Error).message}); ${howToWrite(file)}`,
    );
  }
  const { username, password } = (parsed ?? {}) as Record<string, unknown>;
  if (
    typeof username !== "string" ||
    typeof password !== "string" ||
    username === "" ||
    Buffer.byteLength(username) > MAX_USERNAME_BYTES ||
    Buffer.byteLength(password) > MAX_PASSWORD_BYTES
  )
    throw new PowerCredentialsError(
      `host "${host}": ${file} needs "username" (1–${MAX_USERNAME_BYTES} bytes) and "password" ` +
        `(at most ${MAX_PASSWORD_BYTES} bytes, IPMI 2.0's limits) as strings; ${howToWrite(file)}`,
    );
  return { username, password };
}
