/**
 * The boot policy metal hands to netboot: boot-once safety lives here. Only a host in `pending`,
 * `waking` or `pxe` gets the installer; every other known host boots its disk; unknown MACs get
 * no answer and are remembered for `metal status`.
 *
 * Phase moves (docs/state.md): the firmware's first DHCP packet moves `pending`/`waking` to
 * `pxe` (the orchestrator stops Wake-on-LAN on that event). Serving the iPXE script mints the
 * installer token and keeps the host in `pxe`, so a script fetched again (an iPXE retry) still
 * boots the installer, with a fresh token that replaces the old one. The installer's accepted
 * callback, not the script, moves the host on to `installer`; from then on it boots its disk.
 */
import type { BootDecision, BootPolicy, BootSpec, MachineInfo } from "netboot";
import { newToken } from "../callback/tokens.js";
import type { Host, Inventory } from "../inventory/types.js";
import { PhaseConflictError } from "../state/errors.js";
import type { Clock } from "../state/file-store.js";
import type { StateStore } from "../state/store.js";
import { INSTALLER_PHASES } from "../state/lifecycle.js";
import { loadInstallerArtifacts, type InstallerArtifacts } from "./installer-artifacts.js";

export interface BootPolicyOptions {
  readonly inventory: Inventory;
  readonly store: StateStore;
  /** Directory with `bzImage`, `initrd`, `cmdline`. */
  readonly installerDir: string;
  /** Base URL of the callback API as the installer reaches it, e.g. `http://10.77.0.1:8080/callback/v1`. */
  readonly callbackBaseUrl: string;
  readonly clock?: Clock;
}

/** How often a decision is retried when the host's phase changed under it. */
const MAX_DECISION_ATTEMPTS = 3;

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
  const { inventory, store, callbackBaseUrl } = options;
  const clock = options.clock ?? Date.now;
  const artifacts: InstallerArtifacts = await loadInstallerArtifacts(options.installerDir);
  const hostsByMac = new Map(inventory.hosts.map((host) => [host.mac, host]));
  await store.register(inventory.hosts.map((host) => host.name));

  const installerSpec = (cmdline: string): BootSpec => ({
    kernel: artifacts.kernel,
    initrds: [artifacts.initrd],
    cmdline,
  });

  async function decideOnce(machine: MachineInfo, host: Host): Promise<BootDecision> {
    const firstStage = host.firstStage === undefined ? {} : { firstStage: host.firstStage };
    const record = store.host(host.name);
    if (!record || !INSTALLER_PHASES.includes(record.phase))
      return { action: "local", ...firstStage };

    if (machine.stage === "dhcp") {
      if (record.phase !== "pxe") {
        await store.change(host.name, {
          expect: ["pending", "waking"],
          to: "pxe",
          step: `PXE: DHCP from ${describeFirmware(machine)} firmware`,
        });
      }
      // The DHCP answer only picks the first stage; the token goes into the script below.
      return { action: "boot", spec: installerSpec(artifacts.cmdline), ...firstStage };
    }

    let token = "";
    await store.change(host.name, {
      expect: INSTALLER_PHASES,
      to: "pxe",
      step: "PXE: installer script served",
      update: (current) => {
        const minted = newToken(current.attempt, "installer", clock());
        token = minted.token;
        return { tokens: { ...current.tokens, installer: minted.record } };
      },
    });
    return {
      action: "boot",
      spec: installerSpec(installerCmdline(artifacts.cmdline, callbackBaseUrl, token, host)),
      ...firstStage,
    };
  }

  return async (machine) => {
    const host = hostsByMac.get(machine.mac);
    if (!host) {
      await store.recordUnknownMachine({ mac: machine.mac, arch: machine.arch });
      return { action: "ignore", reason: "MAC not in the inventory (listed by `metal status`)" };
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await decideOnce(machine, host);
      } catch (error) {
        // The host moved on between reading and changing its phase (e.g. its callback landed):
        // decide again from the new phase, which is never less safe.
        if (!(error instanceof PhaseConflictError) || attempt >= MAX_DECISION_ATTEMPTS) throw error;
      }
    }
  };
}
