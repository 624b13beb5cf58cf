/** Errors a user meets when the inventory cannot be used. */
import { MetalError } from "../errors.js";

/** One problem in the inventory: where, which field, the value, and what would be right. */
export interface InventoryIssue {
  /** `host "node2"`, `network`, `lab machine "node1"`, or `inventory` for the file itself. */
  readonly where: string;
  /** The TOML key, e.g. `mac`; empty for issues about a whole section or the file. */
  readonly field: string;
  readonly message: string;
}

/** Every problem found in one file, not just the first, so one edit fixes them all. */
export class InventoryError extends MetalError {
  override readonly code: string = "INVENTORY_INVALID";
  override readonly exit = "refused";
  constructor(
    readonly file: string,
    readonly issues: readonly InventoryIssue[],
  ) {
    super(
      `${file}: ${issues.length} problem${issues.length === 1 ? "" : "s"}:\n` +
        issues.map((issue) => `  - ${issue.message}`).join("\n"),
    );
  }
}
