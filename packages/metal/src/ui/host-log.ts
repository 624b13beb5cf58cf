/**
 * metal's log of netboot and state events: netboot's event logger (pino; JSON lines off a
 * terminal, readable lines on one) with every line about a machine carrying its inventory host,
 * MAC and install phase (HostContext). Events are escaped (escape.ts) before they are described,
 * so no text a machine chose reaches the log raw.
 */
import { createEventLogger, type EventLogger, type NetbootEvents } from "netboot";
import type { Inventory } from "../inventory/types.js";
import type { StateStore } from "../state/store.js";
import type { StateEvent } from "../state/types.js";
import { escapeStrings } from "./escape.js";
import { HostContext } from "./host-context.js";

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
  const context = new HostContext(options.inventory, options.store);
  const events = createEventLogger({
    json: options.json,
    verbose: options.verbose,
    ...(options.destination ? { destination: options.destination } : {}),
    context: (event) => ({ ...context.ofEvent(event) }),
  });
  const logState = (raw: StateEvent): void => {
    const event = escapeStrings(raw);
    switch (event.type) {
      case "host.phase": {
        const labels = { ...context.ofHost(event.host), phase: event.to };
        const text = `${event.from} → ${event.to}: ${event.step}${event.reason ? ` (${event.reason})` : ""}`;
        if (event.to === "failed") events.pino.error(labels, text);
        else events.pino.info(labels, text);
        break;
      }
      case "host.step":
        events.pino.info({ ...context.ofHost(event.host), phase: event.phase }, event.step);
        break;
      case "unknown.seen":
        events.pino[event.count === 1 ? "warn" : "debug"](
          context.ofMac(event.mac),
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
        sources.netbootEvents.on((event) => events.log(escapeStrings(event))),
        sources.store.on("event", logState),
      ];
      return () => unsubscribe.forEach((stop) => stop());
    },
  };
}
