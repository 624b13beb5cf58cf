/**
 * Turns what happens during an install into ProgressEvents for the views: state events (phase
 * changes, steps, unknown machines), netboot events (named by host when their MAC is an
 * inventory host's), and the orchestrator's own messages.
 */
import { describeEvent, type NetbootEvent } from "netboot";
import type { Host } from "../inventory/types.js";
import type { Phase, StateEvent } from "../state/types.js";
import type { ProgressEvent, ProgressKind, ProgressLevel } from "./progress.js";

export interface HostLookup {
  byName(name: string): Host | undefined;
  byMac(mac: string): Host | undefined;
  /** The host's phase now (events carry it for the log). */
  phaseOf(name: string): Phase | undefined;
}

export function hostLookup(
  hosts: readonly Host[],
  phaseOf: (name: string) => Phase | undefined,
): HostLookup {
  const byName = new Map(hosts.map((host) => [host.name, host]));
  const byMac = new Map(hosts.map((host) => [host.mac, host]));
  return { byName: (name) => byName.get(name), byMac: (mac) => byMac.get(mac), phaseOf };
}

/** An event about `host` (or about metal itself when `host` is undefined), stamped now. */
export function progressMessage(
  hosts: HostLookup,
  host: string | undefined,
  kind: ProgressKind,
  level: ProgressLevel,
  message: string,
): ProgressEvent {
  return {
    time: Date.now(),
    kind,
    level,
    host,
    mac: host === undefined ? undefined : hosts.byName(host)?.mac,
    phase: host === undefined ? undefined : hosts.phaseOf(host),
    message,
  };
}

export function fromStateEvent(event: StateEvent, hosts: HostLookup): ProgressEvent | undefined {
  switch (event.type) {
    case "host.phase":
      return {
        time: event.time,
        kind: "phase",
        level: event.to === "failed" ? "error" : "info",
        host: event.host,
        mac: hosts.byName(event.host)?.mac,
        phase: event.to,
        message: event.reason ? `${event.step}: ${event.reason}` : event.step,
      };
    case "host.step":
      return {
        time: event.time,
        kind: "step",
        level: "info",
        host: event.host,
        mac: hosts.byName(event.host)?.mac,
        phase: event.phase,
        message: event.step,
      };
    case "unknown.seen":
      return {
        time: event.time,
        kind: "step",
        // Said once; every later sighting only goes to the log.
        level: event.count === 1 ? "warn" : "debug",
        host: undefined,
        mac: event.mac,
        phase: undefined,
        message: `machine ${event.mac} PXE-booted but is not in the inventory (ignored; see metal status)`,
      };
    case "host.added":
      return undefined;
  }
}

export function fromNetbootEvent(event: NetbootEvent, hosts: HostLookup): ProgressEvent {
  const described = describeEvent(event);
  const host = described.mac === undefined ? undefined : hosts.byMac(described.mac);
  return {
    time: event.time,
    kind: "netboot",
    level: described.level,
    host: host?.name,
    mac: described.mac,
    phase: host ? hosts.phaseOf(host.name) : undefined,
    message: described.message,
  };
}
