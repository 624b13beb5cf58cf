/**
 * The addresses each inventory MAC's own PXE DHCP exchange named, as the proxyDHCP saw them:
 * option 50 of a REQUEST to the home router (RFC 2132 §9.1) and `ciaddr` of a REQUEST to the
 * PXE boot server on port 4011 (PXE 2.1 §2.2.3; RFC 2131 §2). The installer token goes only to
 * one of these (docs/security.md): an address the machine itself asked for or held while it
 * PXE-booted in this run.
 *
 * Both exchanges reach us: every DHCP packet on port 67 is a broadcast the proxy hears, and
 * iPXE's own exchange is a second one with the same MAC (ipxe/ipxe src/net/udp/dhcp.c
 * `dhcp_tx`: its REQUEST carries the offer's yiaddr as the requested address, its ProxyDHCP
 * REQUEST to port 4011 carries it as ciaddr). Measured in the lab
 * (docs/security.md "Measured"): OVMF's and ipxe.efi's REQUESTs both asked for 10.77.0.130 and
 * the script was fetched from 10.77.0.130. Remembered in memory only, for inventory MACs only,
 * a few per MAC: a run serves one attempt per host, and nothing a stranger sends grows this.
 */
import type { NetbootEvent } from "netboot";
import { isIPv4 } from "../inventory/ipv4.js";

/** Firmware, iPXE and a retry or two: more distinct addresses than this are not one machine. */
export const MAX_ADDRESSES_PER_MAC = 4;
const UNSPECIFIED = "0.0.0.0";

export class PxeAddressBook {
  readonly #byMac = new Map<string, string[]>();

  constructor(private readonly macs: ReadonlySet<string>) {}

  /** Feed of the netboot event bus: learns from each `dhcp.request` of an inventory MAC. */
  observe(event: NetbootEvent): void {
    if (event.type !== "dhcp.request" || !this.macs.has(event.mac)) return;
    for (const address of [event.requestedAddress, event.clientAddress]) {
      if (address === undefined || address === UNSPECIFIED || !isIPv4(address)) continue;
      const known = this.#byMac.get(event.mac) ?? [];
      // Most recent last; the oldest falls out once a MAC named more than the limit.
      const next = [...known.filter((entry) => entry !== address), address];
      this.#byMac.set(event.mac, next.slice(-MAX_ADDRESSES_PER_MAC));
    }
  }

  /** Addresses MAC's PXE DHCP exchange named in this run, most recent last. */
  addresses(mac: string): readonly string[] {
    return this.#byMac.get(mac) ?? [];
  }
}
