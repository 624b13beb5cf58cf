/**
 * Strings that betray private material if they appear anywhere public: in the repository, in
 * a file or response the install server serves, in a log. Tests scan for them; the k3s secrets
 * are not here (they exist only inside sops files), callers that know them add them.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import sshpk from "sshpk";
import { readIfExists } from "./files.js";
import { privatePaths } from "./layout.js";

/** Present in every PEM or OpenSSH private key file and every age identity. */
export const PRIVATE_MATERIAL_HEADERS = ["PRIVATE KEY-----", "AGE-SECRET-KEY-1"] as const;
const ED25519_SEED_BYTES = 32;

export async function leakMarkers(secretsDir: string): Promise<string[]> {
  const own = privatePaths(secretsDir);
  const hostNames = await readdir(own.hostsDir).catch(() => [] as string[]);
  const keyFiles = [
    own.adminSshKey,
    ...hostNames.map((host) => own.hostKey(host)),
    ...hostNames.map((host) => `${own.hostKey(host)}.previous`),
  ];
  const markers: string[] = [...PRIVATE_MATERIAL_HEADERS];
  for (const file of keyFiles) {
    const content = await readIfExists(file);
    if (content === undefined) continue;
    const seed = sshpk
      .parsePrivateKey(content, "ssh")
      .parts.find((part) => part.name === "k")
      ?.data.subarray(0, ED25519_SEED_BYTES);
    if (seed !== undefined) markers.push(seed.toString("hex"), seed.toString("base64"));
  }
  const ageKey = await readIfExists(own.adminAgeKey);
  const identity = ageKey?.split("\n").find((line) => line.startsWith("AGE-SECRET-KEY-1"));
  if (identity !== undefined) markers.push(identity);
  return markers.filter((marker) => marker !== "");
}

/** Repository-relative path of every file under `root` containing a marker (`.git` skipped). */
export async function filesContaining(root: string, markers: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== ".git" && entry.name !== "node_modules") await walk(full);
      } else if (entry.isFile()) {
        const content = (await readIfExists(full)) ?? "";
        if (markers.some((marker) => content.includes(marker)))
          found.push(path.relative(root, full));
      }
    }
  };
  await walk(root);
  return found;
}
