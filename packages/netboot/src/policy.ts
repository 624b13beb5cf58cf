/**
 * The boot policy: the one question the library asks its caller. For each machine that shows up
 * (at DHCP time and again when iPXE asks for its script), the caller decides: boot this kernel,
 * boot the local disk, or stay silent. The library knows nothing else about the machines.
 */
import type { Firmware } from "./arch.js";
import type { Mac } from "./mac.js";

export interface MachineInfo {
  readonly mac: Mac;
  /** Option 93 value, when the request carried one (DHCP stage only). */
  readonly arch?: number | undefined;
  readonly firmware?: Firmware | undefined;
  /** DHCP stage: UEFI HTTP boot firmware (option 93 = 15/16/19/20 or `HTTPClient`), which gets a URL. */
  readonly httpBoot?: boolean | undefined;
  /** Option 97 client machine identifier (SMBIOS UUID), as lower-case text. */
  readonly uuid?: string | undefined;
  /** Script stage: the address the HTTP request came from (the requester of the script). */
  readonly address?: string | undefined;
  /** Where the question comes from: the firmware's DHCP, or iPXE fetching its script. */
  readonly stage: "dhcp" | "script";
}

/**
 * `firstStage` overrides the first-stage binary for this machine (e.g. `snponly.efi`). A machine
 * told to boot locally still gets iPXE and an `exit` script: firmware with network-first boot
 * order falls through to its disk at once instead of waiting out a PXE timeout.
 */
export interface BootSpec {
  /** Absolute path of the kernel file on this machine. */
  readonly kernel: string;
  /** Absolute paths of the initrds, loaded in order. */
  readonly initrds: readonly string[];
  /** Kernel command line (the library adds `initrd=` arguments itself). */
  readonly cmdline?: string;
}

export type BootDecision =
  | { readonly action: "boot"; readonly spec: BootSpec; readonly firstStage?: string }
  /** Boot the next boot device (the local disk): iPXE `exit`. */
  | { readonly action: "local"; readonly firstStage?: string }
  /** Do not answer at all; `reason` ends up in the ignore event. */
  | { readonly action: "ignore"; readonly reason: string };

export type BootPolicy = (machine: MachineInfo) => BootDecision | Promise<BootDecision>;

/** A policy that boots every machine (or only the listed MACs) into one spec. */
export function staticPolicy(spec: BootSpec, onlyMacs?: ReadonlySet<Mac>): BootPolicy {
  return ({ mac }) =>
    onlyMacs && onlyMacs.size > 0 && !onlyMacs.has(mac)
      ? { action: "ignore", reason: "MAC not in the allowed list" }
      : { action: "boot", spec };
}
