/** Errors of power control a user can meet; each names the host, the reason and the fix. */
import type { PowerOperation } from "./driver.js";

export class PowerError extends Error {
  override name = "PowerError";
}

/** The host's driver cannot do this (Wake-on-LAN can only power on). */
export class PowerUnsupportedError extends PowerError {
  override name = "PowerUnsupportedError";
  constructor(
    readonly host: string,
    readonly driver: string,
    readonly operation: PowerOperation,
  ) {
    super(
      `host "${host}": power driver "${driver}" cannot ${operation}; give the host a BMC in the ` +
        'inventory (power = { driver = "ipmi", address = "…" }, see docs/power.md) or do it by hand',
    );
  }
}

/** The BMC credentials file is missing, unreadable, malformed or readable by others. */
export class PowerCredentialsError extends PowerError {
  override name = "PowerCredentialsError";
}

/** The BMC (or the tool that talks to it) refused or did not answer. */
export class PowerCommandError extends PowerError {
  override name = "PowerCommandError";
}
