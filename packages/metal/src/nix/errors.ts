/** Errors of asking Nix about the inventory; each says what failed, why, and how to fix it. */
import { MetalError } from "../errors.js";

export class NixMissingError extends MetalError {
  override readonly code: string = "NIX_MISSING";
  override readonly exit = "refused";
  constructor() {
    super(
      "nix-instantiate is not installed, so the Nix side of the inventory cannot be evaluated; " +
        "install Nix (Debian: apt-get install nix-bin, or run scripts/bootstrap.sh)",
    );
  }
}

export class NixEvaluationError extends MetalError {
  override readonly code: string = "NIX_EVALUATION";
  override readonly exit = "refused";
  constructor(
    readonly entry: string,
    readonly inventoryFile: string,
    readonly stderr: string,
  ) {
    const reason = stderr.split("\n").find((line) => line.startsWith("error:")) ?? stderr.trim();
    super(
      `Nix could not evaluate nix/lib/${entry} for ${inventoryFile}: ${reason}; ` +
        "fix the inventory field the message names (docs/inventory.md)",
    );
  }
}
