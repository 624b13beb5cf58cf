/**
 * Turns what happens during an install into ProgressEvents for the views: state events (phase
 * changes, steps, unknown machines), netboot events (named by host through the one labeller,
 * ui/host-context.ts, so a TFTP line names its host as the dashboard does), and the
 * orchestrator's own messages.
 */
import { describeEvent, type NetbootEvent } from "netboot";
import type { StateEvent } from "../state/types.js";
import { UNKNOWN_HOST, type HostContext } from "../ui/host-context.js";
import type { ProgressEvent, ProgressKind, ProgressLevel } from "./progress.js";

/** An event about `host` (or about metal itself when `host` is undefined), stamped now. */
export function progressMessage(
  hosts: HostContext,
  host: string | undefined,
  kind: ProgressKind,
  level: ProgressLevel,
  message: string,
): ProgressEvent {
  const labels = host === undefined ? undefined : hosts.ofHost(host);
  return { time: Date.now(), kind, level, host, mac: labels?.mac, phase: labels?.phase, message };
}

export function fromStateEvent(event: StateEvent, hosts: HostContext): ProgressEvent | undefined {
  switch (event.type) {
    case "host.phase":
      return {
        time: event.time,
        kind: "phase",
        level: event.to === "failed" ? "error" : "info",
        host: event.host,
        mac: hosts.ofHost(event.host).mac,
        phase: event.to,
        message: event.reason ? `${event.step}: ${event.reason}` : event.step,
      };
    case "host.step":
      return {
        time: event.time,
        kind: "step",
        level: "info",
        host: event.host,
        mac: hosts.ofHost(event.host).mac,
        phase: event.phase,
        message: event.step,
      };
    case "host.added":
      return undefined;
  }
}

export function fromNetbootEvent(event: NetbootEvent, hosts: HostContext): ProgressEvent {
  const described = describeEvent(event);
  const labels = hosts.ofEvent(event);
  const known = labels.host !== undefined && labels.host !== UNKNOWN_HOST;
  return {
    time: event.time,
    kind: "netboot",
    level: described.level,
    host: known ? labels.host : undefined,
    mac: labels.mac,
    phase: known ? labels.phase : undefined,
    message: described.message,
  };
}
