/**
 * Whether this process may bind ports below 1024 (DHCP 67, TFTP 69): root, the
 * CAP_NET_BIND_SERVICE capability, or a lowered net.ipv4.ip_unprivileged_port_start.
 */
import { readFile } from "node:fs/promises";

/** capability.h: CAP_NET_BIND_SERVICE is bit 10 of the capability sets. */
const CAP_NET_BIND_SERVICE_BIT = 10n;
const LOWEST_SERVICE_PORT = 67;

export interface PrivilegeReport {
  readonly root: boolean;
  readonly netBindService: boolean;
  readonly unprivilegedPortStart: number | undefined;
}

export function canBindLowPorts(report: PrivilegeReport): boolean {
  return (
    report.root ||
    report.netBindService ||
    (report.unprivilegedPortStart !== undefined &&
      report.unprivilegedPortStart <= LOWEST_SERVICE_PORT)
  );
}

/** `CapEff:\t0000003fffffffff` from /proc/self/status → whether bit 10 is set. */
export function hasNetBindService(procStatus: string): boolean {
  const match = /^CapEff:\s*([0-9a-f]+)$/im.exec(procStatus);
  return match !== null && ((BigInt(`0x${match[1]}`) >> CAP_NET_BIND_SERVICE_BIT) & 1n) === 1n;
}

export async function privilegeReport(): Promise<PrivilegeReport> {
  const status = await readFile("/proc/self/status", "utf8").catch(() => "");
  const portStart = await readFile("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8").catch(
    () => "",
  );
  return {
    root: process.getuid?.() === 0,
    netBindService: hasNetBindService(status),
    unprivilegedPortStart: portStart.trim() === "" ? undefined : Number(portStart.trim()),
  };
}
