/**
 * One human line per event, for terminals and logs. The same text feeds `netboot serve`'s
 * output and, through the event's fields, metal's progress views.
 */
import type { NetbootEvent } from "../events.js";

export type EventLevel = "debug" | "info" | "warn" | "error";

export interface DescribedEvent {
  readonly level: EventLevel;
  readonly mac: string | undefined;
  readonly message: string;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function rate(bytes: number, durationMs: number): string {
  return durationMs > 0 ? `, ${formatBytes((bytes * 1000) / durationMs)}/s` : "";
}

export function describeEvent(event: NetbootEvent): DescribedEvent {
  switch (event.type) {
    case "dhcp.request":
      return {
        level: "debug",
        mac: event.mac,
        message: `DHCP ${event.message} on :${event.port} from ${event.from} (arch ${event.arch ?? "none"}, ${event.vendorClass ?? "no vendor class"}${event.isIpxe ? ", iPXE" : ""}${event.relay ? `, via relay ${event.relay}` : ""})`,
      };
    case "dhcp.reply":
      return {
        level: "info",
        mac: event.mac,
        message: `DHCP ${event.message} to ${event.to}:${event.port}: ${event.firmware} boots ${event.bootFile} from ${event.nextServer}`,
      };
    case "dhcp.ignored":
      return {
        level: "debug",
        mac: event.mac,
        message: `DHCP packet from ${event.from}:${event.port} ignored: ${event.reason}`,
      };
    case "tftp.start":
      return {
        level: "info",
        mac: undefined,
        message: `TFTP ${event.peer} started ${event.file} (${formatBytes(event.size)}, blksize ${event.blksize}, windowsize ${event.windowsize})`,
      };
    case "tftp.end":
      return {
        level: "info",
        mac: undefined,
        message: `TFTP ${event.peer} finished ${event.file} (${formatBytes(event.bytes)} in ${Math.round(event.durationMs)} ms${rate(event.bytes, event.durationMs)})`,
      };
    case "tftp.error":
      return {
        level: "warn",
        mac: undefined,
        message: `TFTP ${event.peer}${event.file ? ` ${event.file}` : ""}: ${event.reason}`,
      };
    case "http.script":
      return {
        level: "info",
        mac: event.mac,
        message: `iPXE script for ${event.peer}: ${event.action === "boot" ? "boot the kernel" : event.action === "local" ? "boot the local disk" : "not served"}`,
      };
    case "http.file.start":
      return {
        level: "debug",
        mac: event.mac,
        message: `HTTP ${event.peer} started ${event.path} (${formatBytes(event.bytes)} of ${formatBytes(event.size)})`,
      };
    case "http.file.end":
      return {
        level: event.complete ? "info" : "warn",
        mac: event.mac,
        message: `HTTP ${event.peer} ${event.complete ? "got" : "aborted"} ${event.path} (${event.status}, ${formatBytes(event.bytes)} in ${Math.round(event.durationMs)} ms${rate(event.bytes, event.durationMs)})`,
      };
    case "wol.sent":
      return {
        level: "info",
        mac: event.mac,
        message: `Wake-on-LAN sent to ${event.address}:${event.port}`,
      };
    case "policy.error":
      return {
        level: "error",
        mac: event.mac,
        message: `boot policy failed at the ${event.stage} stage: ${event.error}`,
      };
    case "server.error":
      return { level: "error", mac: undefined, message: `${event.server} server: ${event.error}` };
  }
}
