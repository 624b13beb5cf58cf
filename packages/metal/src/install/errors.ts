/** Errors of the install orchestration that a user can meet. */
import { MetalError } from "../errors.js";

export class ConfigError extends MetalError {
  override readonly code: string = "INSTALL_CONFIG";
  override readonly exit = "refused";
}
