/**
 * First-stage network boot programs: the iPXE binary a firmware loads (over TFTP, or over HTTP
 * for UEFI HTTP boot) before iPXE fetches its script. Stock, unpatched binaries only: a patched
 * binary loses its signature, and signed ones are what Secure Boot shims accept (PXE-FACTS §4).
 */
import type { Firmware } from "../arch.js";

/** File names, relative to the first-stage directory, per firmware family. */
export type FirstStageBinaries = Readonly<Partial<Record<Firmware, string>>>;

/** Debian's `ipxe` package directory and what it ships (no arm64 or ia32 builds). */
export const DEBIAN_IPXE_DIR = "/usr/lib/ipxe";
export const DEBIAN_FIRST_STAGES: FirstStageBinaries = {
  bios: "undionly.kpxe",
  "uefi-x64": "ipxe.efi",
};

/**
 * The file a firmware should load, or undefined when none is configured for it (the DHCP
 * server then ignores the client with that reason). `override` is a per-machine choice such as
 * `snponly.efi` for UEFI NICs where `ipxe.efi` hangs at "initialising devices".
 */
export function firstStageFor(
  firmware: Firmware,
  binaries: FirstStageBinaries = DEBIAN_FIRST_STAGES,
  override?: string,
): string | undefined {
  return override ?? binaries[firmware];
}
