/** `metal status`: the state as a table (or JSON), with unknown machines and what to paste. */
import type { Inventory } from "../inventory/types.js";
import type { ClusterState, HostRecord, Phase, UnknownMachine } from "../state/types.js";
import { hostSnippets, likelyTypoOf } from "./snippet.js";

export interface HostStatus {
  readonly name: string;
  /** An inventory host the state has not recorded yet is `pending`. */
  readonly phase: Phase;
  readonly attempt: number | undefined;
  readonly lastStep: string;
  readonly since: number | undefined;
  readonly failure: HostRecord["failure"];
  /** False for a host in the state that the inventory no longer lists. */
  readonly inInventory: boolean;
}

export interface UnknownMachineStatus extends UnknownMachine {
  readonly likelyTypoOf: string | undefined;
  /** A `[[hosts]]` block to paste into the inventory; absent without an inventory. */
  readonly snippet: string | undefined;
}

export interface StatusReport {
  readonly hosts: readonly HostStatus[];
  readonly unknownMachines: readonly UnknownMachineStatus[];
}

/**
 * `unknownMachines` come from `metal install`'s in-memory list (boot/unknown-machines.ts), not
 * from the state: sightings of strangers never touch state.json.
 */
export function statusReport(
  state: ClusterState,
  inventory: Inventory | undefined,
  unknownMachines: readonly UnknownMachine[],
): StatusReport {
  const names = new Set([
    ...(inventory?.hosts.map((host) => host.name) ?? []),
    ...Object.keys(state.hosts),
  ]);
  const inventoryNames = new Set(inventory?.hosts.map((host) => host.name));
  const hosts = [...names].map((name): HostStatus => {
    const record = state.hosts[name];
    return {
      name,
      phase: record?.phase ?? "pending",
      attempt: record?.attempt,
      lastStep: record?.lastStep ?? "not started (no state yet)",
      since: record?.since,
      failure: record?.failure,
      inInventory: inventory === undefined || inventoryNames.has(name),
    };
  });
  return { hosts, unknownMachines: unknownMachineStatuses(unknownMachines, inventory) };
}

/**
 * Most recently seen first. Names and addresses in the snippets are handed out in order of first
 * sighting, so a machine seen again does not change every other machine's snippet (the dashboard
 * sends only the entries that changed).
 */
export function unknownMachineStatuses(
  unknown: readonly UnknownMachine[],
  inventory: Inventory | undefined,
): UnknownMachineStatus[] {
  const byFirstSeen = [...unknown].sort(
    (a, b) => a.firstSeen - b.firstSeen || a.mac.localeCompare(b.mac),
  );
  const snippets = inventory ? hostSnippets(inventory, byFirstSeen) : new Map<string, string>();
  return [...unknown]
    .sort((a, b) => b.lastSeen - a.lastSeen)
    .map((machine) => ({
      ...machine,
      likelyTypoOf: inventory && likelyTypoOf(inventory, machine.mac),
      snippet: snippets.get(machine.mac),
    }));
}

function time(ms: number | undefined): string {
  return ms === undefined ? "-" : new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function formatStatus(report: StatusReport): string {
  const rows = report.hosts.map((host) => [
    host.name,
    host.phase,
    host.attempt === undefined ? "-" : String(host.attempt),
    time(host.since),
    (host.failure ? `${host.failure.reason} (failed in ${host.failure.phase})` : host.lastStep) +
      (host.inInventory ? "" : " [not in the inventory]"),
  ]);
  const parts = [
    report.hosts.length === 0
      ? "no hosts"
      : table([["HOST", "PHASE", "ATTEMPT", "SINCE", "LAST STEP"], ...rows]),
  ];
  if (report.unknownMachines.length > 0) {
    parts.push("", "Seen PXE-booting but not in the inventory (a typo in a MAC?):");
    for (const machine of report.unknownMachines) {
      const typo = machine.likelyTypoOf
        ? `; looks like a typo of ${machine.likelyTypoOf}'s MAC`
        : "";
      const arch = machine.arch === undefined ? "" : `, arch ${machine.arch}`;
      parts.push(
        `  ${machine.mac}  seen ${machine.count}×, first ${time(machine.firstSeen)}, last ${time(machine.lastSeen)}${arch}${typo}`,
      );
      if (machine.snippet)
        parts.push(
          "  to install it, add to the inventory:",
          ...machine.snippet.split("\n").map((line) => `    ${line}`),
        );
    }
  }
  return parts.join("\n");
}
