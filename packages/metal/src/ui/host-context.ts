/**
 * The one host labeller: which inventory host a netboot event is about, and the phase that host
 * is in right now, for every view (terminal progress, plain and JSON lines, the host log, the
 * dashboard). The MAC comes from the event, or for TFTP (which has none) from the peer
 * directory, which learns addresses from DHCP 4011 requests, HTTP requests and installer
 * callbacks; the phase is read from the store at call time (none without a store: a deploy).
 */
import type { NetbootEvent } from "netboot";
import type { Host, Inventory } from "../inventory/types.js";
import type { StateStore } from "../state/store.js";
import type { Phase } from "../state/types.js";
import { PeerDirectory } from "./peer-directory.js";

/** `host` is "unknown" for a MAC in no `[[hosts]]` entry; all three are undefined for server-wide events. */
export interface HostLabels {
  readonly host: string | undefined;
  readonly mac: string | undefined;
  readonly phase: Phase | undefined;
}

export const UNKNOWN_HOST = "unknown";

export class HostContext {
  readonly #peers = new PeerDirectory();
  readonly #hostsByMac: ReadonlyMap<string, string>;
  readonly #hosts: ReadonlyMap<string, Host>;

  constructor(
    inventory: Inventory,
    private readonly store: StateStore | undefined,
  ) {
    this.#hostsByMac = new Map(inventory.hosts.map((host) => [host.mac, host.name]));
    this.#hosts = new Map(inventory.hosts.map((host) => [host.name, host]));
  }

  byName(name: string): Host | undefined {
    return this.#hosts.get(name);
  }

  /** The peer directory every view shares: what one learns, all label with. */
  get peers(): PeerDirectory {
    return this.#peers;
  }

  /** Labels for a netboot event; also learns the peer's address for later TFTP events. */
  ofEvent(event: NetbootEvent): HostLabels {
    return this.ofMac(this.#peers.learn(event));
  }

  ofMac(mac: string | undefined): HostLabels {
    if (mac === undefined) return { host: undefined, mac, phase: undefined };
    const host = this.#hostsByMac.get(mac);
    if (host === undefined) return { host: UNKNOWN_HOST, mac, phase: undefined };
    return { host, mac, phase: this.#phaseOf(host) ?? "pending" };
  }

  ofHost(host: string): HostLabels {
    return { host, mac: this.#hosts.get(host)?.mac, phase: this.#phaseOf(host) };
  }

  #phaseOf(host: string): Phase | undefined {
    return this.store?.host(host)?.phase;
  }
}
