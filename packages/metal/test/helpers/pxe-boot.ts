/**
 * The boot policy as `metal install` wires it, for unit tests: its PXE address book fed with the
 * `dhcp.request` events netboot would emit, and its in-memory unknown-machine list.
 */
import type { BootPolicy, DhcpRequestEvent, Mac } from "netboot";
import { createBootPolicy, type BootPolicyOptions } from "../../src/boot/policy.js";
import { PxeAddressBook } from "../../src/boot/pxe-addresses.js";
import { UnknownMachines } from "../../src/boot/unknown-machines.js";

export interface WiredPolicy {
  readonly policy: BootPolicy;
  readonly pxeAddresses: PxeAddressBook;
  readonly unknownMachines: UnknownMachines;
  /** The machine's PXE DHCP REQUEST to the home router, asking for `address` (option 50). */
  dhcpRequest(mac: string, address: string): void;
  /** DHCP then the script fetch from `address`; returns the token on the cmdline, if any. */
  pxeBoot(mac: string, address: string): Promise<string | undefined>;
}

export async function wiredPolicy(
  options: Omit<BootPolicyOptions, "pxeAddresses" | "unknownMachines">,
): Promise<WiredPolicy> {
  const pxeAddresses = new PxeAddressBook(new Set(options.inventory.hosts.map((h) => h.mac)));
  const unknownMachines = new UnknownMachines();
  const policy = await createBootPolicy({ ...options, pxeAddresses, unknownMachines });
  const dhcpRequest = (mac: string, address: string) => {
    const event: DhcpRequestEvent = {
      type: "dhcp.request",
      time: Date.now(),
      mac: mac as Mac,
      xid: 1,
      message: "REQUEST",
      port: 67,
      from: "0.0.0.0",
      arch: 0,
      vendorClass: "PXEClient:Arch:00000:UNDI:002001",
      userClass: undefined,
      isIpxe: false,
      relay: undefined,
      requestedAddress: address,
      clientAddress: undefined,
    };
    pxeAddresses.observe(event);
  };
  return {
    policy,
    pxeAddresses,
    unknownMachines,
    dhcpRequest,
    async pxeBoot(mac, address) {
      dhcpRequest(mac, address);
      await policy({ mac: mac as Mac, stage: "dhcp", arch: 0, firmware: "bios" });
      const decision = await policy({ mac: mac as Mac, stage: "script", address });
      return decision.action === "boot"
        ? /metal\.token=(\S+)/.exec(decision.spec.cmdline ?? "")?.[1]
        : undefined;
    },
  };
}
