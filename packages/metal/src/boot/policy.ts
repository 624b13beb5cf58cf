/**
 * The boot policy metal hands to netboot: boot-once safety lives here. Only a host in `pending`,
 * `waking` or `pxe` gets the installer; every other known host boots its disk; unknown MACs get
 * no answer and are remembered (in memory, capped) for `metal status`.
 *
 * Phase moves (docs/state.md): the firmware's first DHCP packet moves `pending`/`waking` to
 * `pxe` (the orchestrator stops Wake-on-LAN on that event). The installer script, with its
 * token, goes only to an address the host's own PXE DHCP exchange named (pxe-addresses.ts);
 * the first such requester is bound to the attempt and a re-fetch from it gets the same token.
 * A second, different requester is a conflict: the host fails with both addresses named and
 * nothing is installed until the operator runs `metal install` again (docs/security.md). The
 * installer's accepted callback, not the script, moves the host on to `installer`.
 */
import type { BootDecision, BootPolicy, BootSpec, MachineInfo } from "netboot";
import { newToken } from "../callback/tokens.js";
import { DEFAULT_INSTALLER_ARCH, type InstallerDirs } from "./installer-dirs.js";
import type { Host, HostArch, Inventory } from "../inventory/types.js";
import { PhaseConflictError } from "../state/errors.js";
import type { Clock } from "../state/file-store.js";
import type { StateStore } from "../state/store.js";
import { INSTALLER_PHASES, move, stay } from "../state/lifecycle.js";
import { loadInstallerArtifacts, type InstallerArtifacts } from "./installer-artifacts.js";
import type { PxeAddressBook } from "./pxe-addresses.js";
import type { UnknownMachines } from "./unknown-machines.js";

export interface BootPolicyOptions {
  readonly inventory: Inventory;
  readonly store: StateStore;
  /** Directory with `bzImage`, `initrd`, `cmdline`. */
  readonly installerDir: string;
  /** One such directory per host architecture (ADR 0191); default: `installerDir` for x86_64. */
  readonly installerDirs?: InstallerDirs;
  /** Base URL of the callback API as the installer reaches it, e.g. `http://10.77.0.1:8080/callback/v1`. */
  readonly callbackBaseUrl: string;
  /** What each inventory MAC's PXE DHCP exchange named; fed from the netboot event bus. */
  readonly pxeAddresses: PxeAddressBook;
  /** Where sightings of MACs outside the inventory go (never the state store). */
  readonly unknownMachines: UnknownMachines;
  readonly clock?: Clock;
}

/** How often a decision is retried when the host's phase changed under it. */
const MAX_DECISION_ATTEMPTS = 3;
/** Distinct wrong addresses per host whose refused fetch becomes a step; later ones only count. */
export const MAX_RECORDED_REFUSED_REQUESTERS = 8;

/** The one address an attempt's installer token went to, and the token itself (memory only). */
interface Binding {
  readonly attempt: number;
  readonly requester: string;
  readonly token: string;
}

/** Kernel parameters that tell the agent where to call back and as whom (callback-protocol §1). */
export function installerCmdline(
  base: string,
  callbackBaseUrl: string,
  token: string,
  host: Host,
): string {
  const bootif = `01-${host.mac.replaceAll(":", "-")}`;
  return [
    base,
    `metal.callback=${callbackBaseUrl}`,
    `metal.token=${token}`,
    `metal.host=${host.name}`,
    `BOOTIF=${bootif}`,
  ]
    .filter((part) => part !== "")
    .join(" ");
}

function describeFirmware(machine: MachineInfo): string {
  return machine.firmware ?? (machine.arch === undefined ? "unknown" : `arch ${machine.arch}`);
}

export async function createBootPolicy(options: BootPolicyOptions): Promise<BootPolicy> {
  const { inventory, store, callbackBaseUrl, pxeAddresses, unknownMachines } = options;
  const clock = options.clock ?? Date.now;
  const installerDirs = options.installerDirs ?? { [DEFAULT_INSTALLER_ARCH]: options.installerDir };
  // Each host boots the installer of its own architecture (ADR 0300).
  const artifactsByArch = new Map<HostArch, InstallerArtifacts>();
  for (const [arch, dir] of Object.entries(installerDirs))
    artifactsByArch.set(arch as HostArch, await loadInstallerArtifacts(dir));
  const hostsByMac = new Map(inventory.hosts.map((host) => [host.mac, host]));
  await store.register(inventory.hosts.map((host) => host.name));

  const bindings = new Map<string, Binding>();
  const refusedRequesters = new Map<string, Set<string>>();

  const installerSpec = (artifacts: InstallerArtifacts, cmdline: string): BootSpec => ({
    kernel: artifacts.kernel,
    initrds: [artifacts.initrd],
    cmdline,
  });

  async function decideOnce(machine: MachineInfo, host: Host): Promise<BootDecision> {
    const firstStage = host.firstStage === undefined ? {} : { firstStage: host.firstStage };
    const record = store.host(host.name);
    if (!record || !INSTALLER_PHASES.includes(record.phase))
      return { action: "local", ...firstStage };
    const artifacts = artifactsByArch.get(host.arch);
    // metal check refuses such a host before anything is served; this only keeps the wrong
    // architecture's kernel from ever reaching it.
    if (!artifacts)
      return {
        action: "ignore",
        reason: `no installer for ${host.name}'s architecture ${host.arch}: pass --installer ${host.arch}=DIR`,
      };

    if (machine.stage === "dhcp") {
      if (record.phase !== "pxe") {
        await store.change(
          host.name,
          move(
            "firstDhcp",
            `${machine.httpBoot ? "UEFI HTTP boot" : "PXE"}: DHCP from ${describeFirmware(machine)} firmware`,
          ),
        );
      }
      // The DHCP answer only picks the first stage; the token goes into the script below.
      return { action: "boot", spec: installerSpec(artifacts, artifacts.cmdline), ...firstStage };
    }

    const requester = machine.address;
    const named = pxeAddresses.addresses(host.mac);
    if (requester === undefined || !named.includes(requester)) {
      await recordRefusedFetch(host, requester, named);
      return {
        action: "ignore",
        reason: `the script goes only to the address ${host.mac}'s own PXE DHCP exchange named`,
      };
    }
    const bound = bindings.get(host.name);
    if (bound && bound.attempt === record.attempt) {
      if (bound.requester !== requester) return conflict(host, record.attempt, bound, requester);
      return installerDecision(host, artifacts, bound.token, firstStage);
    }
    let binding: Binding | undefined;
    await store.change(
      host.name,
      move("installerScriptServed", `PXE: installer script served to ${requester}`, {
        update: (current) => {
          const minted = newToken(current.attempt, "installer", clock());
          binding = { attempt: current.attempt, requester, token: minted.token };
          return { tokens: { ...current.tokens, installer: minted.record } };
        },
      }),
    );
    bindings.set(host.name, binding!);
    return installerDecision(host, artifacts, binding!.token, firstStage);
  }

  function installerDecision(
    host: Host,
    artifacts: InstallerArtifacts,
    token: string,
    firstStage: { firstStage?: string },
  ): BootDecision {
    return {
      action: "boot",
      spec: installerSpec(
        artifacts,
        installerCmdline(artifacts.cmdline, callbackBaseUrl, token, host),
      ),
      ...firstStage,
    };
  }

  /**
   * Two machines that both took part in the MAC's PXE DHCP asked for its installer: one of them
   * forged the MAC. Which one cannot be told from the network, so nobody gets an install.
   */
  async function conflict(
    host: Host,
    attempt: number,
    bound: Binding,
    requester: string,
  ): Promise<BootDecision> {
    await store.change(
      host.name,
      move("fail", `installer conflict: ${requester} asked after ${bound.requester}`, {
        from: INSTALLER_PHASES,
        reason:
          `installer conflict in attempt ${attempt}: two machines asked for host "${host.name}"'s ` +
          `installer as MAC ${host.mac}, first ${bound.requester}, then ${requester}; nothing was ` +
          `installed. Find out which machine is not ${host.name} (one of them forged its MAC), ` +
          `then run metal install again to start a new attempt (docs/security.md)`,
      }),
    );
    return { action: "ignore", reason: `installer conflict for ${host.mac}` };
  }

  /**
   * A fetch from an address the MAC's DHCP never named. Netboot's `http.script` event (action
   * `ignore`) already counts every one; the first few distinct requesters become host steps.
   */
  async function recordRefusedFetch(
    host: Host,
    requester: string | undefined,
    named: readonly string[],
  ): Promise<void> {
    const seen = refusedRequesters.get(host.name) ?? new Set<string>();
    refusedRequesters.set(host.name, seen);
    const who = requester ?? "an unknown address";
    if (seen.has(who) || seen.size >= MAX_RECORDED_REFUSED_REQUESTERS) return;
    seen.add(who);
    const expected = named.length > 0 ? named.join(", ") : "no address yet";
    await store
      .change(
        host.name,
        stay(
          INSTALLER_PHASES,
          `installer script refused to ${who}: ${host.mac}'s PXE DHCP named ${expected}`,
        ),
      )
      .catch((error: unknown) => {
        if (!(error instanceof PhaseConflictError)) throw error;
      });
  }

  async function decideWithRetries(machine: MachineInfo, host: Host): Promise<BootDecision> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await decideOnce(machine, host);
      } catch (error) {
        // The host moved on between reading and changing its phase (e.g. its callback landed):
        // decide again from the new phase, which is never less safe.
        if (!(error instanceof PhaseConflictError) || attempt >= MAX_DECISION_ATTEMPTS) throw error;
      }
    }
  }

  const decisions = new Map<string, Promise<unknown>>();
  const policy: BootPolicy = async (machine) => {
    const host = hostsByMac.get(machine.mac);
    if (!host) {
      unknownMachines.record({ mac: machine.mac, arch: machine.arch });
      return { action: "ignore", reason: "MAC not in the inventory (listed by `metal status`)" };
    }
    // One decision per host at a time: two concurrent fetches must not both find no binding.
    const previous = decisions.get(host.name) ?? Promise.resolve();
    const decision = previous.then(() => decideWithRetries(machine, host));
    decisions.set(
      host.name,
      decision.catch(() => undefined),
    );
    return decision;
  };
  return policy;
}
