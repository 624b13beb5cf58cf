/**
 * Which inventory host a netboot event is about, and the phase that host is in right now: the
 * labels every log line and progress line carries. The MAC comes from the event, or for TFTP
 * (which has none) from the peer directory; the phase is read from the store at call time.
 */
import type { NetbootEvent } from "netboot";
import type { Inventory } from "../inventory/types.js";
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
  readonly #macsByHost: ReadonlyMap<string, string>;

  constructor(
    inventory: Inventory,
    private readonly store: StateStore,
  ) {
    this.#hostsByMac = new Map(inventory.hosts.map((host) => [host.mac, host.name]));
    this.#macsByHost = new Map(inventory.hosts.map((host) => [host.name, host.mac]));
  }

  /** Labels for a netboot event; also learns the peer's address for later TFTP events. */
  ofEvent(event: NetbootEvent): HostLabels {
    return this.ofMac(this.#peers.learn(event));
  }

  ofMac(mac: string | undefined): HostLabels {
    if (mac === undefined) return { host: undefined, mac, phase: undefined };
    const host = this.#hostsByMac.get(mac);
    if (host === undefined) return { host: UNKNOWN_HOST, mac, phase: undefined };
    return { host, mac, phase: this.store.host(host)?.phase ?? "pending" };
  }

  ofHost(host: string): HostLabels {
    return { host, mac: this.#macsByHost.get(host), phase: this.store.host(host)?.phase };
  }
}
