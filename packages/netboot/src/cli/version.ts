/**
 * The version `netboot --version` prints: package.json's, read at run time so the one number
 * npm publishes is the one the CLI reports (package.json ships in every npm package).
 */
import { readFileSync } from "node:fs";

/** dist/cli/version.js and src/cli/version.ts both sit two levels below package.json. */
const PACKAGE_JSON = new URL("../../package.json", import.meta.url);

export function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(PACKAGE_JSON, "utf8")) as { version?: unknown };
  if (typeof version !== "string")
    throw new Error(`${PACKAGE_JSON.pathname} has no "version": reinstall netboot`);
  return version;
}
