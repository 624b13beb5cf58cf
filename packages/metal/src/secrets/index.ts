/**
 * The secrets model of a metal cluster (docs/secrets.md): SSH host keys made before install,
 * age recipients derived from them, `.sops.yaml`, sops-encrypted k3s secrets, and what
 * `metal install` hands nixos-anywhere.
 */
export { ageRecipientFromSshPublicKey } from "./age.js";
export { secretsFindings } from "./key-findings.js";
export * from "./errors.js";
export {
  buildExtraFiles,
  knownHostsLine,
  removeStaleExtraFiles,
  HOST_KEY_TARGET,
  type ExtraFiles,
} from "./extra-files.js";
export {
  privatePaths,
  REPO_PATHS,
  resolveSecretsDir,
  SECRET_KEYS,
  SECRETS_DIR_ENV,
} from "./layout.js";
export { reconcileSecrets, type Change, type SecretsContext } from "./reconcile.js";
export { addHost, rotateHostKey, type HostKeyReport } from "./rotate.js";
export { filesContaining, leakMarkers } from "./leak-markers.js";
