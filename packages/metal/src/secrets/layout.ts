/**
 * Where every file of the secrets model lives (docs/secrets.md is the reference). Two roots:
 * the repository (next to cluster.toml: public keys, recipients, `.sops.yaml`, encrypted files)
 * and the private secrets directory outside it (private keys; ADR 0080).
 */
import path from "node:path";
import type { Inventory } from "../inventory/types.js";
import { userHome } from "../state/ownership.js";

/** Repository-relative paths, POSIX separators (they also appear in `.sops.yaml`). */
export const REPO_PATHS = {
  sopsConfig: ".sops.yaml",
  clusterSecrets: "secrets/cluster.yaml",
  hostSecrets: (host: string) => `secrets/hosts/${host}.yaml`,
  /** Public keys live in keys/; the flake reads this one as root's authorized key (docs/secrets.md). */
  adminPublicKey: "keys/admin.pub",
  adminAgeRecipient: "keys/admin.age",
  hostPublicKey: (host: string) => `keys/hosts/${host}.pub`,
  hostAgeRecipient: (host: string) => `keys/hosts/${host}.age`,
} as const;

/** Keys inside the encrypted YAML files (sops-nix `sops.secrets.<key>`). */
export const SECRET_KEYS = {
  k3sToken: "k3s_token",
  nodePassword: "k3s_node_password",
} as const;

export const SECRETS_DIR_ENV = "METAL_SECRETS_DIR";

/** Paths inside the private secrets directory. */
export function privatePaths(secretsDir: string) {
  return {
    adminDir: path.join(secretsDir, "admin"),
    adminSshKey: path.join(secretsDir, "admin", "id_ed25519"),
    adminSshPublicKey: path.join(secretsDir, "admin", "id_ed25519.pub"),
    adminAgeKey: path.join(secretsDir, "admin", "age.key"),
    hostsDir: path.join(secretsDir, "hosts"),
    hostDir: (host: string) => path.join(secretsDir, "hosts", host),
    hostKey: (host: string) => path.join(secretsDir, "hosts", host, "ssh_host_ed25519_key"),
    hostPublicKey: (host: string) =>
      path.join(secretsDir, "hosts", host, "ssh_host_ed25519_key.pub"),
  };
}

export type PrivatePaths = ReturnType<typeof privatePaths>;

/** The folder that holds cluster.toml: the repository root of the cluster. */
export function repoRootOf(inventory: Inventory): string {
  return path.dirname(inventory.source);
}

/**
 * `--secrets-dir`, else `$METAL_SECRETS_DIR`, else `$XDG_CONFIG_HOME/metal/<cluster>`
 * (`~/.config/metal/<cluster>`): outside the repository, so no `git add -A`, `git clean -x` or
 * archive of the repository can take the private keys along or away. Under `sudo metal …` the
 * home is the invoking user's, not root's: the keys `metal secrets init` wrote as that user.
 */
export function resolveSecretsDir(
  inventory: Inventory,
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (explicit !== undefined) return path.resolve(explicit);
  const fromEnv = env[SECRETS_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return path.resolve(fromEnv);
  const configHome = env.XDG_CONFIG_HOME || path.join(userHome(env), ".config");
  return path.join(configHome, "metal", inventory.cluster.name);
}
