/**
 * metal's log: netboot's event logger (pino; JSON lines off a terminal, readable lines on one)
 * with every line carrying the inventory host, its MAC and its install phase. The MAC of a TFTP
 * transfer comes from the peer directory; the phase is read from the state store when the line
 * is written, so it is the phase the host is in at that moment.
 */
import {
  createEventLogger,
  type EventContext,
  type EventLogger,
  type NetbootEvents,
} from "netboot";
import type { Inventory } from "../inventory/types.js";
import type { StateStore } from "../state/store.js";
import type { StateEvent } from "../state/types.js";
import { PeerDirectory } from "./peer-directory.js";

export interface HostLoggerOptions {
  readonly inventory: Inventory;
  readonly store: StateStore;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly destination?: NodeJS.WritableStream;
}

export interface HostLogger {
  readonly events: EventLogger;
  /** One line per state change: a phase change (an error when it is `failed`), a step, an unknown machine. */
  logState(event: StateEvent): void;
  /** Logs every event of both sources until the returned function is called. */
  attach(sources: {
    readonly netbootEvents: NetbootEvents;
    readonly store: StateStore;
  }): () => void;
}

export function createHostLogger(options: HostLoggerOptions): HostLogger {
  const { inventory, store } = options;
  const peers = new PeerDirectory();
  const hostsByMac = new Map(inventory.hosts.map((host) => [host.mac, host.name]));
  const macsByHost = new Map(inventory.hosts.map((host) => [host.name, host.mac]));
  const contextOf = (mac: string | undefined): EventContext => {
    const host = mac === undefined ? undefined : hostsByMac.get(mac);
    return {
      host: host ?? (mac === undefined ? undefined : "unknown"),
      mac,
      phase: host === undefined ? undefined : (store.host(host)?.phase ?? "pending"),
    };
  };
  const events = createEventLogger({
    json: options.json,
    verbose: options.verbose,
    ...(options.destination ? { destination: options.destination } : {}),
    context: (event, mac) => contextOf(peers.learn(event) ?? mac),
  });
  const logState = (event: StateEvent): void => {
    switch (event.type) {
      case "host.phase": {
        const line = { host: event.host, mac: macsByHost.get(event.host), phase: event.to };
        const text = `${event.from} → ${event.to}: ${event.step}${event.reason ? ` (${event.reason})` : ""}`;
        if (event.to === "failed") events.pino.error(line, text);
        else events.pino.info(line, text);
        break;
      }
      case "host.step":
        events.pino.info(
          { host: event.host, mac: macsByHost.get(event.host), phase: event.phase },
          event.step,
        );
        break;
      case "unknown.seen":
        events.pino[event.count === 1 ? "warn" : "debug"](
          contextOf(event.mac),
          `PXE boot from ${event.mac}, which is in no [[hosts]] entry (see metal status)`,
        );
        break;
      case "host.added":
        break;
    }
  };
  return {
    events,
    logState,
    attach(sources) {
      const unsubscribe = [
        sources.netbootEvents.on(events.log),
        sources.store.on("event", logState),
      ];
      return () => unsubscribe.forEach((stop) => stop());
    },
  };
}
