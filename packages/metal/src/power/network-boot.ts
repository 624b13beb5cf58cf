/**
 * "Boot from the network once" for a running host, the step `metal reinstall` starts with
 * (ADR 0201). With a BMC that can: set the one-time PXE boot flag and power-cycle. Without one,
 * over SSH with the admin key and the host's pinned key:
 * - UEFI: `efibootmgr --bootnext XXXX` on the firmware's network boot entry, then reboot.
 *   BootNext "supersedes BootOrder for one boot only, and is deleted by the boot manager after
 *   first use" (rhboot/efibootmgr src/efibootmgr.8.in); entries print as `Boot0003* Description`
 *   (src/efibootmgr.c).
 * - BIOS: there is no one-time boot to set from the running system, so the disk's first sector
 *   (the MBR: boot code, partition table, 0x55AA signature) is zeroed and the machine rebooted;
 *   firmware that finds no bootable disk goes on to the next boot device, the NIC. The disk is
 *   about to be erased by the install anyway; until it is, the machine cannot boot its disk.
 */
import type { Host } from "../inventory/types.js";
import type { BootFirmware, PowerDriver } from "./driver.js";
import { PowerError } from "./errors.js";

export type NetworkBootMethod = "bmc" | "ssh";

const BOOT_ENTRY = /^Boot([0-9A-Fa-f]{4})\*?\s+(.*)$/;
const NETWORK_WORDS = /\b(PXE|PXEv4|IPv4|Network|NIC|LAN|HTTPv4)\b/i;
const IPV6 = /\b(IPv6|PXEv6|HTTPv6)\b/i;
const HTTP_BOOT = /\bHTTP/i;
/**
 * Reboot once the SSH session has closed, or the client waits on a dying connection. Forced
 * after a sync: what was just written (BootNext, the zeroed sector) is on disk or in NVRAM, and
 * the disk is about to be erased; a clean shutdown could hang on a sick host.
 */
export const DETACHED_REBOOT =
  'setsid sh -c "sleep 1; sync; reboot -f" </dev/null >/dev/null 2>&1 &';

/** Whether the host's driver can do it, or metal must go in over SSH. */
export function networkBootMethod(driver: PowerDriver): NetworkBootMethod {
  return driver.supports.has("bootFromNetworkOnce") && driver.supports.has("cycle") ? "bmc" : "ssh";
}

/**
 * The firmware's IPv4 network boot entry in `efibootmgr` output, best first: one naming the
 * host's MAC (OVMF: `UEFI PXEv4 (MAC:525400770001)`) before one that does not, and on the same
 * NIC PXE before UEFI HTTP boot (metal answers both, ADR 0152; HTTP is what is left when the
 * firmware's PXE is switched off). IPv6 entries are skipped: metal answers over IPv4. edk2 names
 * the entries it creates for a NIC "UEFI " + "PXEv4|PXEv6|HTTPv4|HTTPv6 (MAC:" + the MAC in
 * lower-case hex without separators (tianocore/edk2 MdeModulePkg/Library/UefiBootManagerLib/
 * BmBootDescription.c, BmGetNetworkDescription, and mBmUefiPrefix), hence the lower-case match.
 */
export function networkBootEntry(efibootmgrOutput: string, mac: string): string | undefined {
  const macHex = mac.replaceAll(":", "").toLowerCase();
  const entries = efibootmgrOutput.split("\n").flatMap((line) => {
    const match = BOOT_ENTRY.exec(line.trim());
    if (!match) return [];
    const [, number, description] = match as unknown as [string, string, string];
    if (!NETWORK_WORDS.test(description) || IPV6.test(description)) return [];
    const rank =
      (description.toLowerCase().includes(macHex) ? 0 : 2) + (HTTP_BOOT.test(description) ? 1 : 0);
    return [{ number: number.toUpperCase(), rank }];
  });
  return entries.sort((a, b) => a.rank - b.rank)[0]?.number;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The remote command that sets BootNext and reboots (UEFI). */
export function bootNextCommand(entry: string): string {
  if (!/^[0-9A-F]{4}$/.test(entry)) throw new PowerError(`"${entry}" is not a boot entry number`);
  return `efibootmgr --bootnext ${entry} >/dev/null && ${DETACHED_REBOOT}`;
}

/** The remote command that makes a BIOS machine fall through its disk to the network. */
export function wipeBootSectorCommand(disk: string): string {
  return `dd if=/dev/zero of=${shellQuote(disk)} bs=512 count=1 conv=fsync 2>/dev/null && ${DETACHED_REBOOT}`;
}

/** Runs one command on the host as root over SSH with the pinned key; resolves with stdout. */
export type RemoteShell = (host: Host, command: string) => Promise<string>;

export interface NetworkBootOptions {
  readonly host: Host;
  readonly driver: PowerDriver;
  /** From the last installer's facts; undefined when metal never saw the host's installer. */
  readonly firmware: BootFirmware | undefined;
  readonly ssh: RemoteShell;
}

/** Makes the running host boot from the network once; says how, in words, for the timeline. */
export async function bootFromNetworkOnce(options: NetworkBootOptions): Promise<string> {
  const { host, driver, firmware, ssh } = options;
  if (networkBootMethod(driver) === "bmc") {
    await driver.bootFromNetworkOnce(firmware);
    await driver.cycle();
    return `one-time PXE boot set through the BMC (${driver.name}) and power cycled`;
  }
  if (firmware === undefined)
    throw new PowerError(
      `host "${host.name}": metal does not know whether it boots UEFI or BIOS (no installer facts in ` +
        "the state) and it has no BMC; make it PXE-boot by hand (firmware boot menu), then run metal install --reinstall",
    );
  if (firmware === "uefi") {
    const listing = await ssh(host, "efibootmgr");
    const entry = networkBootEntry(listing, host.mac);
    if (!entry)
      throw new PowerError(
        `host "${host.name}": efibootmgr lists no IPv4 network boot entry (PXE or HTTP); enable the network stack ` +
          "in its firmware setup, or give it a BMC",
      );
    await ssh(host, bootNextCommand(entry));
    return `BootNext set to Boot${entry} (network) over SSH and rebooted`;
  }
  await ssh(host, wipeBootSectorCommand(host.disk));
  return `boot sector of ${host.disk} wiped over SSH and rebooted: the firmware falls through to the network`;
}
