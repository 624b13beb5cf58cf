/**
 * Whether the keys an install needs exist: the admin key (the install logs in with it) and each
 * host's pre-generated SSH host key. One home for `metal check` and for `metal install`, which
 * refuses before serving anything when one is missing.
 */
import { readFile } from "node:fs/promises";
import type { Finding } from "../finding.js";
import type { Inventory } from "../inventory/types.js";
import { privatePaths } from "./layout.js";

/** The admin key nixos-anywhere logs in with, and each host's pre-generated SSH host key. */
export async function secretsFindings(
  inventory: Inventory,
  secretsDir: string,
): Promise<Finding[]> {
  const paths = privatePaths(secretsDir);
  const wanted = [paths.adminSshKey, ...inventory.hosts.map((host) => paths.hostKey(host.name))];
  const missing: string[] = [];
  for (const file of wanted) {
    if ((await readFile(file).catch(() => undefined)) === undefined) missing.push(file);
  }
  if (missing.length === 0)
    return [
      {
        ok: true,
        message: `keys in ${secretsDir}: admin key and ${inventory.hosts.length} host keys`,
      },
    ];
  return [
    {
      ok: false,
      message: `keys in ${secretsDir}: missing ${missing.join(", ")}; the install logs in with the admin key and gives each host its key`,
      fix:
        "run `metal secrets init` as the user who will run the install (under sudo metal reads the invoking user's " +
        "~/.config/metal), or pass --secrets-dir where the keys are",
    },
  ];
}
