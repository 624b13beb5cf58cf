/**
 * Which MAC an IP address belongs to, learnt from the netboot events that carry both. TFTP
 * events only name the peer's address (TFTP has no MAC), so the dashboard, the metrics and the
 * logs attribute a transfer to a machine through this table. A proxyDHCP server never hands out
 * addresses; it learns a client's address when the client first speaks from it (a 4011 REQUEST,
 * an iPXE script or file request over HTTP), or from the address its broadcast REQUEST asks the
 * home router for (option 50, RFC 2131 §4.3.2): UEFI HTTP boot firmware never asks on 4011 and
 * fetches its first stage over HTTP with no MAC in the URL (docs/http-boot.md), so that address
 * is the only tie between the download and the machine.
 */
import type { NetbootEvent } from "netboot";

const UNASSIGNED = "0.0.0.0";
/**
 * Addresses remembered at most; past it the oldest is forgotten. A LAN holds far fewer machines,
 * and a flood of forged REQUESTs, each claiming another address, must not grow the table.
 */
export const MAX_PEER_ADDRESSES = 4096;

export class PeerDirectory {
  readonly #macByAddress = new Map<string, string>();
  /** Addresses a machine was seen speaking from, or that metal was told; a claim never moves them. */
  readonly #seen = new Set<string>();

  /** Learns from an event; returns the MAC the event concerns, when one is known. */
  learn(event: NetbootEvent): string | undefined {
    switch (event.type) {
      case "dhcp.request":
        if (event.relay !== undefined) return event.mac;
        if (event.from !== UNASSIGNED) this.#see(event.from, event.mac);
        else if (event.message === "REQUEST" && event.requestedAddress !== undefined)
          this.#claim(event.requestedAddress, event.mac);
        return event.mac;
      case "http.script":
        this.#see(event.peer, event.mac);
        return event.mac;
      case "http.file.start":
      case "http.file.end":
        if (event.mac !== undefined) this.#see(event.peer, event.mac);
        return event.mac ?? this.#macByAddress.get(event.peer);
      case "tftp.start":
      case "tftp.end":
      case "tftp.error":
        return this.#macByAddress.get(event.peer);
      case "dhcp.reply":
      case "wol.sent":
      case "policy.error":
        return event.mac;
      case "dhcp.ignored":
        return event.mac;
      case "server.error":
        return undefined;
    }
  }

  /** Tells the directory an address is a machine's (e.g. from its installer's callback). */
  remember(address: string, mac: string): void {
    this.#see(address, mac);
  }

  /** A machine spoke from `address` (or metal was told so): that is what the address is. */
  #see(address: string, mac: string): void {
    this.#seen.add(address);
    this.#set(address, mac);
  }

  /**
   * Option 50 is only what a client says it wants; a stranger may name any address there, so a
   * claim fills an address nobody was seen at and never relabels one a machine spoke from.
   */
  #claim(address: string, mac: string): void {
    if (!this.#seen.has(address)) this.#set(address, mac);
  }

  #set(address: string, mac: string): void {
    this.#macByAddress.delete(address);
    this.#macByAddress.set(address, mac);
    if (this.#macByAddress.size <= MAX_PEER_ADDRESSES) return;
    const oldest = this.#macByAddress.keys().next().value as string;
    this.#macByAddress.delete(oldest);
    this.#seen.delete(oldest);
  }

  macOf(address: string): string | undefined {
    return this.#macByAddress.get(address);
  }
}
