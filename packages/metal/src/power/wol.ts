/**
 * The `wol` driver (a host without `power` in the inventory): a Wake-on-LAN magic packet on the
 * served network. It can only power on: a sleeping NIC hears the packet, nothing hears "off".
 */
import { sendWakeOnLan } from "netboot";
import type { Host } from "../inventory/types.js";
import type { PowerContext, PowerDriver, PowerOperation } from "./driver.js";
import { PowerUnsupportedError } from "./errors.js";

export const WOL_DRIVER = "wol";
const SUPPORTS: ReadonlySet<PowerOperation> = new Set(["on"]);

export type SendWakeOnLan = typeof sendWakeOnLan;

export function wolDriver(
  host: Host,
  context: PowerContext,
  send: SendWakeOnLan = sendWakeOnLan,
): PowerDriver {
  const unsupported = (operation: PowerOperation) => () =>
    Promise.reject(new PowerUnsupportedError(host.name, WOL_DRIVER, operation));
  return {
    name: WOL_DRIVER,
    supports: SUPPORTS,
    powerOnStep: "Wake-on-LAN sent",
    on: () =>
      send({
        mac: host.mac,
        broadcastAddress: context.broadcastAddress,
        ...(context.events ? { events: context.events } : {}),
      }),
    off: unsupported("off"),
    cycle: unsupported("cycle"),
    status: unsupported("status"),
    bootFromNetworkOnce: unsupported("bootFromNetworkOnce"),
  };
}
