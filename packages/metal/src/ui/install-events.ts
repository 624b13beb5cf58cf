/**
 * The one event stream of a `metal install`: netboot events, state events, machines outside the
 * inventory, install output and metal's own messages, each labelled ONCE by the one host
 * labeller (host-context.ts) and then handed to every view that subscribes: the terminal
 * (install/progress-events.ts maps them to its lines), the JSON log and the dashboard. No view
 * labels or subscribes to a source on its own, so a TFTP line names its host in the terminal as
 * on the dashboard, and a machine outside the inventory is reported in both.
 */
import type { NetbootEvent } from "netboot";
import type { StateStore } from "../state/store.js";
import type { StateEvent, UnknownMachine } from "../state/types.js";
import { EventFeed, type EventSubscription } from "./event-feed.js";
import type { HostContext, HostLabels } from "./host-context.js";

export type MessageLevel = "debug" | "info" | "warn" | "error";

export type InstallEvent =
  | { readonly source: "netboot"; readonly event: NetbootEvent; readonly labels: HostLabels }
  | { readonly source: "state"; readonly event: StateEvent; readonly labels: HostLabels }
  | { readonly source: "unknown"; readonly machine: UnknownMachine; readonly labels: HostLabels }
  | {
      readonly source: "output";
      readonly time: number;
      readonly line: string;
      readonly labels: HostLabels;
    }
  | {
      readonly source: "server";
      readonly time: number;
      readonly level: MessageLevel;
      readonly message: string;
      /** Server-wide messages have no host: all three labels undefined. */
      readonly labels: HostLabels;
    };

/** Where PXE clients outside the inventory are kept (boot/unknown-machines.ts): each sighting. */
export interface UnknownSightings {
  onChange(listener: (machine: UnknownMachine) => void): () => void;
}

export interface InstallEventSources {
  readonly labels: HostContext;
  readonly netbootEvents?: EventSubscription<NetbootEvent> | undefined;
  readonly store?: StateStore | undefined;
  readonly unknownMachines?: UnknownSightings | undefined;
  readonly clock?: () => number;
}

export class InstallEvents implements EventSubscription<InstallEvent> {
  readonly #feed = new EventFeed<InstallEvent>();
  readonly #labels: HostContext;
  readonly #clock: () => number;
  readonly #unsubscribe: Array<() => void>;

  constructor(sources: InstallEventSources) {
    this.#labels = sources.labels;
    this.#clock = sources.clock ?? Date.now;
    const labels = this.#labels;
    this.#unsubscribe = [
      ...(sources.netbootEvents
        ? [
            sources.netbootEvents.on((event) =>
              this.#feed.emit({ source: "netboot", event, labels: labels.ofEvent(event) }),
            ),
          ]
        : []),
      ...(sources.store
        ? [
            sources.store.on("event", (event) => {
              if (event.type === "host.added") return;
              // An accepted installer is a peer: its later requests are labelled by its address.
              const installer = sources.store?.host(event.host)?.installer;
              const mac = labels.byName(event.host)?.mac;
              if (installer && mac) labels.peers.remember(installer.ip, mac);
              this.#feed.emit({ source: "state", event, labels: labels.ofHost(event.host) });
            }),
          ]
        : []),
      ...(sources.unknownMachines
        ? [
            sources.unknownMachines.onChange((machine) =>
              this.#feed.emit({ source: "unknown", machine, labels: labels.ofMac(machine.mac) }),
            ),
          ]
        : []),
    ];
  }

  on(listener: (event: InstallEvent) => void): () => void {
    return this.#feed.on(listener);
  }

  /** A line the install command of `host` printed. */
  output(host: string, line: string): void {
    this.#feed.emit({
      source: "output",
      time: this.#clock(),
      line,
      labels: this.#labels.ofHost(host),
    });
  }

  /** metal's own message, about `host` or (undefined) about the whole run. */
  message(host: string | undefined, level: MessageLevel, message: string): void {
    this.#feed.emit({
      source: "server",
      time: this.#clock(),
      level,
      message,
      labels:
        host === undefined
          ? { host: undefined, mac: undefined, phase: undefined }
          : this.#labels.ofHost(host),
    });
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }
}
