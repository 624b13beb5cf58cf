/** Errors of `metal secrets` that a user can meet; each message names the thing, why, and the fix. */
import { MetalError } from "../errors.js";

export class SecretsError extends MetalError {
  override readonly code: string = "SECRETS_FAILED";
}

/** sops is needed to write encrypted files and is not on PATH. */
export class SopsMissingError extends SecretsError {
  override readonly code: string = "SECRETS_SOPS_MISSING";
  override readonly exit = "refused";
  constructor(readonly pending: readonly string[]) {
    super(
      `sops is not on PATH, so ${pending.join(", ")} cannot be encrypted or re-keyed; nothing was written. ` +
        `Get sops from the flake's devShell (\`nix develop\`, then rerun) or install sops 3.9 or newer; ` +
        `metal never writes secrets in plain text inside the repository.`,
    );
  }
}

/** sops ran and failed. */
export class SopsFailedError extends SecretsError {
  override readonly code: string = "SECRETS_SOPS_FAILED";
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    super(
      `\`sops ${argv.join(" ")}\` failed (exit code ${exitCode ?? "none"}): ${stderr.trim() || "no output"}. ` +
        `Check that .sops.yaml matches the file and that the admin age key can decrypt it.`,
    );
  }
}

/** A command names a host the inventory does not have. */
export class HostNotInInventoryError extends SecretsError {
  override readonly code: string = "SECRETS_UNKNOWN_HOST";
  override readonly exit = "refused";
  constructor(
    readonly host: string,
    readonly known: readonly string[],
  ) {
    super(
      `host "${host}" is not in the inventory (hosts: ${known.join(", ") || "none"}); ` +
        `add it as a [[hosts]] entry in cluster.toml first.`,
    );
  }
}

/** A host's pre-generated SSH host key is missing from the secrets directory. */
export class HostKeyMissingError extends SecretsError {
  override readonly code: string = "SECRETS_HOST_KEY_MISSING";
  override readonly exit = "refused";
  constructor(
    readonly host: string,
    readonly path: string,
  ) {
    super(
      `the SSH host key of "${host}" is missing (${path}); run \`metal secrets add-host ${host}\` ` +
        `(or \`metal secrets init\`), or point --secrets-dir at the directory that holds it.`,
    );
  }
}
