/**
 * Plays a recorded install (fixtures/install-three-hosts.json) into the real sources the
 * dashboard listens to: netboot events onto a NetbootEvents bus, phase changes through the state
 * store's compare-and-set (so only legal transitions replay), unknown machines into the boot
 * policy's in-memory list, install output through the install's one event stream.
 */
import { readFile } from "node:fs/promises";
import { DhcpPort, type Mac, type NetbootEventInput, type NetbootEvents } from "netboot";
import type { UnknownMachines } from "../../../src/boot/unknown-machines.js";
import type { Inventory } from "../../../src/inventory/types.js";
import type { StateStore } from "../../../src/state/store.js";
import type { InstallerFacts, Phase } from "../../../src/state/types.js";
import { HostContext } from "../../../src/ui/host-context.js";
import { InstallEvents } from "../../../src/ui/install-events.js";

export type RecordedStep =
  | { readonly source: "netboot"; readonly event: NetbootEventInput }
  | {
      readonly source: "state";
      readonly host: string;
      readonly to: Phase;
      readonly step: string;
      readonly reason?: string;
      readonly facts?: InstallerFacts;
    }
  | { readonly source: "unknown"; readonly mac: string; readonly arch?: number }
  | { readonly source: "output"; readonly host: string; readonly line: string };

export interface Recording {
  readonly description: string;
  readonly phases: { readonly start: RecordedStep[]; readonly finish: RecordedStep[] };
}

export const RECORDING = new URL("../fixtures/install-three-hosts.json", import.meta.url);

export async function loadRecording(): Promise<Recording> {
  return JSON.parse(await readFile(RECORDING, "utf8")) as Recording;
}

export interface ReplayTargets {
  readonly store: StateStore;
  readonly netbootEvents: NetbootEvents;
  readonly events: InstallEvents;
  readonly unknownMachines: UnknownMachines;
}

/** The install's one labelled stream over these sources, built as the orchestrator builds it. */
export function installEventsOver(
  inventory: Inventory,
  sources: Omit<ReplayTargets, "events">,
): InstallEvents {
  return new InstallEvents({ labels: new HostContext(inventory, sources.store), ...sources });
}

export async function replay(
  steps: readonly RecordedStep[],
  targets: ReplayTargets,
): Promise<void> {
  for (const step of steps) await replayStep(step, targets);
}

export async function replayStep(step: RecordedStep, targets: ReplayTargets): Promise<void> {
  switch (step.source) {
    case "netboot":
      targets.netbootEvents.emit(step.event);
      return;
    case "unknown":
      // As in a real run: the policy keeps the sighting, netboot reports the silence.
      targets.unknownMachines.record({ mac: step.mac, arch: step.arch });
      targets.netbootEvents.emit({
        type: "dhcp.ignored",
        mac: step.mac as Mac,
        xid: undefined,
        port: DhcpPort.server,
        from: "0.0.0.0",
        reason: "boot policy: MAC not in the inventory (listed by `metal status`)",
      });
      return;
    case "output":
      targets.events.output(step.host, step.line);
      return;
    case "state": {
      const current = targets.store.host(step.host)!.phase;
      const facts = step.facts;
      await targets.store.change(step.host, {
        expect: current,
        to: step.to,
        step: step.step,
        ...(step.reason ? { reason: step.reason } : {}),
        ...(facts
          ? {
              update: () => ({
                installer: { sshHostKey: facts.sshHostKey, ip: facts.ip, facts },
              }),
            }
          : {}),
      });
    }
  }
}
