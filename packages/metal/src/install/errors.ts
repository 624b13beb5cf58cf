/** Errors of the install orchestration that a user can meet. */
export class ConfigError extends Error {
  override name = "ConfigError";
}
