/**
 * The terminal's reading of the install's one event stream (ui/install-events.ts): each event,
 * already labelled by the one host labeller, becomes a ProgressEvent for the views and the JSON
 * log. Nothing here names a host itself, so a TFTP line names its host as on the dashboard.
 */
import { describeEvent } from "netboot";
import { UNKNOWN_HOST } from "../ui/host-context.js";
import type { InstallEvent } from "../ui/install-events.js";
import type { ProgressEvent } from "./progress.js";

export function toProgressEvent(event: InstallEvent): ProgressEvent | undefined {
  const { labels } = event;
  switch (event.source) {
    case "state": {
      const state = event.event;
      if (state.type === "host.phase")
        return {
          time: state.time,
          kind: "phase",
          level: state.to === "failed" ? "error" : "info",
          host: state.host,
          mac: labels.mac,
          phase: state.to,
          message: state.reason ? `${state.step}: ${state.reason}` : state.step,
        };
      if (state.type === "host.step")
        return {
          time: state.time,
          kind: "step",
          level: "info",
          host: state.host,
          mac: labels.mac,
          phase: state.phase,
          message: state.step,
        };
      return undefined;
    }
    case "netboot": {
      const described = describeEvent(event.event);
      const known = labels.host !== undefined && labels.host !== UNKNOWN_HOST;
      return {
        time: event.event.time,
        kind: "netboot",
        level: described.level,
        host: known ? labels.host : undefined,
        mac: labels.mac,
        phase: known ? labels.phase : undefined,
        message: described.message,
      };
    }
    case "unknown":
      return {
        time: event.machine.lastSeen,
        kind: "step",
        // Said once per machine; every later sighting only goes to the log.
        level: event.machine.count === 1 ? "warn" : "debug",
        host: undefined,
        mac: event.machine.mac,
        phase: undefined,
        message: `machine ${event.machine.mac} PXE-booted but is not in the inventory (ignored; see metal status)`,
      };
    case "output":
      return { ...hostFields(event), kind: "output", level: "info", message: event.line };
    case "server":
      return { ...hostFields(event), kind: "server", level: event.level, message: event.message };
  }
}

function hostFields(event: InstallEvent & { readonly time: number }) {
  return {
    time: event.time,
    host: event.labels.host,
    mac: event.labels.mac,
    phase: event.labels.phase,
  };
}
