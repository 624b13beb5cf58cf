/**
 * First-stage network boot programs: the iPXE binary a firmware loads (over TFTP, or over HTTP
 * for UEFI HTTP boot) before iPXE fetches its script. Stock, unpatched binaries only: a patched
 * binary loses its signature, and signed ones are what Secure Boot shims accept (PXE-FACTS §4).
 */
import { stat } from "node:fs/promises";
import type { Firmware } from "../arch.js";
import { PathRefusedError } from "../errors.js";
import { resolveUnderRoot } from "../rooted-path.js";

/** File names, relative to the first-stage directory, per firmware family. */
export type FirstStageBinaries = Readonly<Partial<Record<Firmware, string>>>;

/** Debian's `ipxe` package directory and what it ships (no arm64 or ia32 builds). */
export const DEBIAN_IPXE_DIR = "/usr/lib/ipxe";
/**
 * The arm64 UEFI first stage (option 93 = 11, and 19 over HTTP): GRUB's network image, as MAAS
 * boots arm64 (canonical/maas src/provisioningserver/boot/uefi_arm64.py: arch_octet 00:0B,
 * grubaa64.efi). Debian's `ipxe` has no arm64 build; the image is made with `grub-mkimage` from
 * Debian's grub-efi-arm64-bin (ADR 0190, docs/pxe.md) and put into the first-stage directory.
 */
export const GRUB_NET_IMAGE_ARM64 = "grubnetaa64.efi";
export const DEBIAN_FIRST_STAGES: FirstStageBinaries = {
  bios: "undionly.kpxe",
  "uefi-x64": "ipxe.efi",
};
/**
 * What NetbootServer serves by default: Debian's iPXE, and GRUB's network image for arm64. Only
 * the entries whose file is in the first-stage directory are used (see NetbootServer.start).
 */
export const DEFAULT_FIRST_STAGES: FirstStageBinaries = {
  ...DEBIAN_FIRST_STAGES,
  "uefi-arm64": GRUB_NET_IMAGE_ARM64,
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

/** What Debian's `ipxe` package ships for the firmware families we boot, overrides included. */
export const DEBIAN_FIRST_STAGE_FILES: readonly string[] = [
  "undionly.kpxe",
  "ipxe.efi",
  "snponly.efi",
];

export interface FirstStageFileStatus {
  readonly name: string;
  /** True when the file servers will hand it out (it passed the rooted-path check). */
  readonly servable: boolean;
  readonly size?: number;
  /** Why it cannot be served, with the fix. */
  readonly problem?: string;
}

/**
 * Which first-stage binaries a directory can serve, checked through the same resolver the TFTP
 * and HTTP servers use, so "servable" here means servable there. Debian links `ipxe.efi` to
 * `/boot/ipxe.efi`, outside `/usr/lib/ipxe`: the resolver refuses that, and the problem says to
 * copy the files into a directory of their own.
 */
export async function inspectFirstStageDir(
  dir: string,
  names: readonly string[] = DEBIAN_FIRST_STAGE_FILES,
): Promise<FirstStageFileStatus[]> {
  try {
    if (!(await stat(dir)).isDirectory()) {
      return names.map((name) => ({ name, servable: false, problem: `${dir} is not a directory` }));
    }
  } catch {
    const problem = `directory ${dir} does not exist (install Debian's ipxe package or pass another directory)`;
    return names.map((name) => ({ name, servable: false, problem }));
  }
  return Promise.all(
    names.map(async (name): Promise<FirstStageFileStatus> => {
      try {
        const file = await resolveUnderRoot(dir, name);
        return { name, servable: true, size: file.size };
      } catch (error) {
        if (!(error instanceof PathRefusedError)) throw error;
        const fix =
          error.reason === "resolves outside the served root"
            ? `copy the binaries into a directory of their own (cp -L ${dir}/${name} DIR/) and serve DIR`
            : `put ${name} into ${dir} or serve another directory`;
        return { name, servable: false, problem: `${error.reason}: ${fix}` };
      }
    }),
  );
}
