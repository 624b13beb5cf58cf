/**
 * Picks each host's driver from its inventory entry: `power.driver`, else Wake-on-LAN. Called at
 * the command edge only; what it returns is handed to the install flow and `metal power`.
 */
import type { Host } from "../inventory/types.js";
import { loadBmcCredentials } from "./credentials.js";
import type { PowerDrivers } from "./driver.js";
import { ipmiDriver, runCommand, type CommandRunner } from "./ipmi.js";
import { wolDriver, type SendWakeOnLan } from "./wol.js";

export interface PowerDriverOptions {
  readonly secretsDir: string;
  /** Where ipmitool runs (tests pass a recorder). */
  readonly run?: CommandRunner;
  readonly sendWakeOnLan?: SendWakeOnLan;
}

export function createPowerDrivers(options: PowerDriverOptions): PowerDrivers {
  return async (host: Host, context) => {
    const power = host.power;
    if (power?.driver === "ipmi") {
      const credentials = await loadBmcCredentials(options.secretsDir, host.name);
      return ipmiDriver(host, power.address, credentials, options.run ?? runCommand);
    }
    return wolDriver(host, context, options.sendWakeOnLan);
  };
}
