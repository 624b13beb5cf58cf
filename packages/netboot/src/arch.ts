/**
 * Client system architectures (DHCP option 93, RFC 4578 §2.1 and the IANA "Processor
 * Architecture Types" registry). RFC 4578 swapped 7 and 9 (erratum 4540): real x64 UEFI firmware
 * sends 7, some send 9, so both mean x86-64 UEFI here, as pixiecore and MAAS treat them.
 */
export const ClientArch = {
  x86Bios: 0,
  efiIa32: 6,
  efiX64: 7,
  efiXscale: 8,
  efiBc: 9,
  efiArm32: 10,
  efiArm64: 11,
  efiX86Http: 15,
  efiX64Http: 16,
  efiArm32Http: 18,
  efiArm64Http: 19,
  x86BiosHttp: 20,
} as const;

/** The firmware families a first stage is chosen for. */
export type Firmware = "bios" | "uefi-x64" | "uefi-arm64" | "uefi-ia32";

export interface ArchInfo {
  /** The raw option 93 value, or undefined when the client sent none (old BIOS ROMs). */
  readonly code: number | undefined;
  readonly firmware: Firmware;
  /** UEFI HTTP boot: the client wants an http:// URL and `HTTPClient` in option 60. */
  readonly httpBoot: boolean;
}

const ARCHES: ReadonlyMap<number, ArchInfo> = new Map<number, ArchInfo>([
  [0, { code: 0, firmware: "bios", httpBoot: false }],
  [6, { code: 6, firmware: "uefi-ia32", httpBoot: false }],
  [7, { code: 7, firmware: "uefi-x64", httpBoot: false }],
  [9, { code: 9, firmware: "uefi-x64", httpBoot: false }],
  [11, { code: 11, firmware: "uefi-arm64", httpBoot: false }],
  [15, { code: 15, firmware: "uefi-ia32", httpBoot: true }],
  [16, { code: 16, firmware: "uefi-x64", httpBoot: true }],
  [19, { code: 19, firmware: "uefi-arm64", httpBoot: true }],
  [20, { code: 20, firmware: "bios", httpBoot: true }],
]);

/**
 * What an option 93 value means for booting, or undefined for architectures we cannot boot
 * (Xscale, ARM32, unassigned codes). No option 93 at all means a pre-RFC 4578 BIOS ROM.
 */
export function archInfo(code: number | undefined): ArchInfo | undefined {
  if (code === undefined) return { code: undefined, firmware: "bios", httpBoot: false };
  return ARCHES.get(code);
}
