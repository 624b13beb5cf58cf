/**
 * How metal powers a machine: one interface, one driver per kind of hardware. A driver says which
 * operations it can do (`supports`); calling one it cannot do throws PowerUnsupportedError, so a
 * caller asks first (the install loop power-cycles a stuck host only where its driver can).
 *
 * Drivers are built at the command edge (commands/, via createPowerDrivers) and handed to the
 * install flow as a PowerDrivers function; install/ never constructs a concrete driver.
 */
import type { NetbootEvents } from "netboot";
import type { Host } from "../inventory/types.js";

export const POWER_OPERATIONS = ["on", "off", "cycle", "status", "bootFromNetworkOnce"] as const;
export type PowerOperation = (typeof POWER_OPERATIONS)[number];

export type PowerState = "on" | "off";

/** Which firmware the next network boot is for (IPMI sets the EFI boot flag for UEFI). */
export type BootFirmware = "uefi" | "bios";

export interface PowerDriver {
  /** The inventory's `power.driver` name, e.g. `wol` or `ipmi`. */
  readonly name: string;
  readonly supports: ReadonlySet<PowerOperation>;
  /** What a power-on is called in the host's timeline ("Wake-on-LAN sent"). */
  readonly powerOnStep: string;
  on(): Promise<void>;
  off(): Promise<void>;
  /** Off, then on again (a hard power cycle, not a guest reboot). */
  cycle(): Promise<void>;
  status(): Promise<PowerState>;
  /** The next boot (only that one) goes to the network, whatever the firmware's boot order. */
  bootFromNetworkOnce(firmware: BootFirmware | undefined): Promise<void>;
}

/** What a driver may need from the running server: where Wake-on-LAN broadcasts go. */
export interface PowerContext {
  readonly broadcastAddress: string;
  /** The server's event stream, so a sent magic packet shows in the timeline. */
  readonly events?: NetbootEvents | undefined;
}

/** The drivers of every host, as the command edge built them. */
export type PowerDrivers = (host: Host, context: PowerContext) => Promise<PowerDriver>;
