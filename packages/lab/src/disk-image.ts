/**
 * A raw disk image for a lab machine's "installed system" that boots on both firmwares: GPT
 * with an ESP marked LegacyBIOSBootable, syslinux on that ESP behind gptmbr.bin for SeaBIOS,
 * and \EFI\BOOT\BOOTX64.EFI as a unified kernel image for OVMF. For arm64 the ESP holds only
 * \EFI\BOOT\BOOTAA64.EFI, the same kind of image on systemd's arm64 stub, for AAVMF. Built with sfdisk, mkfs.vfat,
 * mtools and objcopy on plain files (no loop mounts: the host kernel may lack vfat). The same
 * inputs and `identity` give the same bytes. Extra partitions after the ESP follow a layout,
 * e.g. the inventory's root + raw Ceph partition.
 */
import { createHash } from "node:crypto";
import { mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchSystemdStubArm64 } from "./arm64.js";
import { LabConfigError } from "./errors.js";
import { runTool } from "./host-tool.js";
import type { DebianArch } from "./kernel.js";

export interface PartitionSpec {
  /** GPT partition name (partlabel), e.g. "root" or "ceph". */
  readonly name: string;
  /** Size in MiB, or "rest" for everything up to the end of the disk (last partition only). */
  readonly sizeMiB: number | "rest";
  /** "esp", "linux", "swap", or a GPT type GUID such as Ceph's. */
  readonly type: string;
}

export interface DiskImageSpec {
  readonly kernel: string;
  readonly initrd: string;
  readonly cmdline: string;
  /** Size of the whole image in MiB (the file is sparse). */
  readonly diskSizeMiB: number;
  /** ESP size in MiB (FAT32 needs at least 33). */
  readonly espSizeMiB?: number;
  /** Partitions after the ESP, in order. */
  readonly partitions?: readonly PartitionSpec[];
  /** Seed for disk, partition and volume ids: same identity, same ids. */
  readonly identity?: string;
  /** The kernel's architecture (default amd64); arm64 disks boot on UEFI only. */
  readonly arch?: DebianArch;
}

export interface PartitionInfo {
  readonly number: number;
  readonly name: string;
  readonly typeGuid: string;
  readonly uuid: string;
  readonly startSector: number;
  readonly sectors: number;
}

export interface DiskImage {
  readonly path: string;
  readonly diskGuid: string;
  readonly partitions: readonly PartitionInfo[];
}

const SECTOR_BYTES = 512;
const MIB = 1024 * 1024;
const SECTORS_PER_MIB = MIB / SECTOR_BYTES;
/** Partitions start on 1 MiB boundaries, the first at sector 2048 as partitioning tools do. */
const FIRST_PARTITION_MIB = 1;
/** The backup GPT at the end of the disk: 32 sectors of entries + header. */
const BACKUP_GPT_SECTORS = 33;
const DEFAULT_ESP_MIB = 64;
const MIN_FAT32_ESP_MIB = 33;
const FAT_VOLUME_LABEL = "ESP";
const BIOS_BOOT_CODE_BYTES = 440;
const UKI_SECTION_ALIGNMENT = 0x1000;
/** PE/COFF: e_lfanew at 0x3c; TimeDateStamp 8 bytes into "PE\0\0"; CheckSum at optional header + 64. */
const PE_HEADER_POINTER_OFFSET = 0x3c;
const PE_TIMESTAMP_OFFSET = 8;
const PE_CHECKSUM_OFFSET = 4 + 20 + 64;
const DEFAULT_IDENTITY = "metal-lab";
const COPY_BLOCK_BYTES = MIB;
const ZERO_BLOCK = Buffer.alloc(COPY_BLOCK_BYTES);
/** FAT cannot store times before 1980-01-01; used when SOURCE_DATE_EPOCH is unset. */
const FAT_EPOCH_SECONDS = 315_532_800;

const TYPE_GUIDS: Readonly<Record<string, string>> = {
  esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  linux: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  swap: "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
};

/** Host files the image is made from (Debian packages syslinux-common, systemd-boot-efi). */
export const BOOT_FILES = {
  gptMbr: "/usr/lib/syslinux/mbr/gptmbr.bin",
  efiStub: "/usr/lib/systemd/boot/efi/linuxx64.efi.stub",
} as const;

/**
 * How a disk boots on UEFI per architecture: the stub the kernel image is built on, binutils
 * that read and write that stub's PE format (the host's objcopy knows only x86 PE), and the
 * removable-media path the firmware loads without a boot entry (edk2
 * MdePkg/Include/Uefi/UefiSpec.h: EFI_REMOVABLE_MEDIA_FILE_NAME_X64 / _AARCH64).
 */
interface UefiBoot {
  readonly stub: string;
  readonly objcopy: string;
  readonly objdump: string;
  readonly removableMediaFile: string;
  /** syslinux and gptmbr.bin for SeaBIOS: x86 only. */
  readonly legacyBios: boolean;
}

async function uefiBootFor(arch: DebianArch): Promise<UefiBoot> {
  if (arch === "amd64")
    return {
      stub: BOOT_FILES.efiStub,
      objcopy: "objcopy",
      objdump: "objdump",
      removableMediaFile: "BOOTX64.EFI",
      legacyBios: true,
    };
  return {
    stub: await fetchSystemdStubArm64(),
    objcopy: "aarch64-linux-gnu-objcopy",
    objdump: "aarch64-linux-gnu-objdump",
    removableMediaFile: "BOOTAA64.EFI",
    legacyBios: false,
  };
}

export async function buildDiskImage(spec: DiskImageSpec, outputPath: string): Promise<DiskImage> {
  const identity = spec.identity ?? DEFAULT_IDENTITY;
  const espSizeMiB = spec.espSizeMiB ?? DEFAULT_ESP_MIB;
  if (espSizeMiB < MIN_FAT32_ESP_MIB)
    throw new LabConfigError(
      `ESP of ${espSizeMiB} MiB is too small for FAT32; use at least ${MIN_FAT32_ESP_MIB} MiB`,
    );
  const partitions = planPartitions(spec.diskSizeMiB, espSizeMiB, spec.partitions ?? [], identity);
  const esp = partitions[0]!;
  const scratch = await mkdtemp(join(tmpdir(), "metal-lab-disk-"));
  try {
    const fat = join(scratch, "esp.fat");
    const boot = await uefiBootFor(spec.arch ?? "amd64");
    await buildEsp(fat, esp.sectors * SECTOR_BYTES, spec, boot, identity, scratch);
    await createSparseFile(outputPath, spec.diskSizeMiB * MIB);
    const diskGuid = deterministicUuid(identity, "disk");
    await runTool("sfdisk", ["--no-reread", "--no-tell-kernel", "--quiet", outputPath], {
      input: sfdiskScript(diskGuid, partitions),
    });
    await copyDataBlocks(fat, outputPath, esp.startSector * SECTOR_BYTES);
    if (boot.legacyBios) {
      const gptMbr = await readFile(BOOT_FILES.gptMbr);
      await writeAt(outputPath, gptMbr.subarray(0, BIOS_BOOT_CODE_BYTES), 0);
    }
    return { path: outputPath, diskGuid, partitions };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Lays out ESP + the given partitions on 1 MiB boundaries; pure. */
export function planPartitions(
  diskSizeMiB: number,
  espSizeMiB: number,
  extra: readonly PartitionSpec[],
  identity: string,
): PartitionInfo[] {
  const specs: PartitionSpec[] = [{ name: "ESP", sizeMiB: espSizeMiB, type: "esp" }, ...extra];
  const lastUsableSector = diskSizeMiB * SECTORS_PER_MIB - BACKUP_GPT_SECTORS - 1;
  const planned: PartitionInfo[] = [];
  let startSector = FIRST_PARTITION_MIB * SECTORS_PER_MIB;
  specs.forEach((partition, index) => {
    const isLast = index === specs.length - 1;
    if (partition.sizeMiB === "rest" && !isLast)
      throw new LabConfigError(
        `partition "${partition.name}" takes the "rest" of the disk but is not the last one; ` +
          'only the last partition may use "rest"',
      );
    const sectors =
      partition.sizeMiB === "rest"
        ? lastUsableSector - startSector + 1
        : partition.sizeMiB * SECTORS_PER_MIB;
    if (sectors <= 0 || startSector + sectors - 1 > lastUsableSector)
      throw new LabConfigError(
        `partition "${partition.name}" does not fit on a ${diskSizeMiB} MiB disk ` +
          `(the layout needs more room); make the disk larger or the partitions smaller`,
      );
    planned.push({
      number: index + 1,
      name: partition.name,
      typeGuid: typeGuid(partition),
      uuid: deterministicUuid(identity, `partition:${partition.name}`),
      startSector,
      sectors,
    });
    startSector += Math.ceil(sectors / SECTORS_PER_MIB) * SECTORS_PER_MIB;
  });
  return planned;
}

function typeGuid(partition: PartitionSpec): string {
  const known = TYPE_GUIDS[partition.type];
  if (known) return known;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(partition.type))
    return partition.type.toUpperCase();
  throw new LabConfigError(
    `partition "${partition.name}" has type "${partition.type}"; use esp, linux, swap or a GPT ` +
      "type GUID such as 4FBD7E29-9D25-41B8-AFD0-062C0CEFF05D (Ceph OSD)",
  );
}

/** A UUID-shaped value from a hash, so the same identity always gives the same ids. */
export function deterministicUuid(identity: string, purpose: string): string {
  const hex = createHash("sha256").update(`${identity}\0${purpose}`).digest("hex");
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    `4${hex.slice(13, 16)}`,
    `${((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}`,
    hex.slice(20, 32),
  ]
    .join("-")
    .toUpperCase();
}

export function sfdiskScript(diskGuid: string, partitions: readonly PartitionInfo[]): string {
  const lines = ["label: gpt", `label-id: ${diskGuid}`, "unit: sectors", ""];
  for (const partition of partitions) {
    const attributes = partition.typeGuid === TYPE_GUIDS.esp ? ', attrs="LegacyBIOSBootable"' : "";
    lines.push(
      `start=${partition.startSector}, size=${partition.sectors}, type=${partition.typeGuid}, ` +
        `uuid=${partition.uuid}, name="${partition.name}"${attributes}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** syslinux reads this for SeaBIOS; the same kernel, initrd and cmdline as the UKI. */
export function syslinuxConfig(cmdline: string): string {
  return [
    "DEFAULT lab",
    "PROMPT 0",
    "TIMEOUT 0",
    "LABEL lab",
    "  LINUX /vmlinuz",
    "  INITRD /initrd.img",
    `  APPEND ${cmdline}`,
    "",
  ].join("\n");
}

async function buildEsp(
  fat: string,
  bytes: number,
  spec: DiskImageSpec,
  boot: UefiBoot,
  identity: string,
  scratch: string,
): Promise<void> {
  const volumeId = deterministicUuid(identity, "esp-volume").replaceAll("-", "").slice(0, 8);
  await runTool("mkfs.vfat", [
    "-C",
    "--invariant",
    "-F",
    "32",
    "-i",
    volumeId,
    "-n",
    FAT_VOLUME_LABEL,
    fat,
    String(bytes / 1024),
  ]);
  const uki = join(scratch, boot.removableMediaFile);
  await buildUnifiedKernelImage(spec, boot, uki, scratch);
  // mtools stamps files and directories with SOURCE_DATE_EPOCH when set: reproducible FAT.
  const mtools = {
    env: { MTOOLS_SKIP_CHECK: "1", TZ: "UTC", SOURCE_DATE_EPOCH: String(fatTimestamp()) },
  };
  await runTool("mmd", ["-i", fat, "::/EFI", "::/EFI/BOOT"], mtools);
  const ukiTarget = `::/EFI/BOOT/${boot.removableMediaFile}`;
  if (!boot.legacyBios) {
    await runTool("mcopy", ["-i", fat, uki, ukiTarget], mtools);
    return;
  }
  const config = join(scratch, "syslinux.cfg");
  await writeFile(config, syslinuxConfig(spec.cmdline));
  for (const [source, target] of [
    [spec.kernel, "::/vmlinuz"],
    [spec.initrd, "::/initrd.img"],
    [config, "::/syslinux.cfg"],
    [uki, ukiTarget],
  ] as const)
    await runTool("mcopy", ["-i", fat, source, target], mtools);
  await runTool("syslinux", ["--install", fat], mtools);
}

/**
 * systemd's EFI stub with .osrel, .cmdline, .linux and .initrd sections appended at aligned
 * addresses after its own (what ukify does; bookworm has no ukify). The bare kernel as
 * BOOTX64.EFI would get no command line and so no initrd. On arm64 .linux is Debian's vmlinuz,
 * an uncompressed Image, which is itself a PE image with the kernel's EFI stub: what systemd
 * 252's stub starts (src/boot/efi/linux.c).
 */
async function buildUnifiedKernelImage(
  spec: DiskImageSpec,
  boot: UefiBoot,
  output: string,
  scratch: string,
): Promise<void> {
  const osRelease = join(scratch, "os-release");
  const cmdline = join(scratch, "cmdline");
  await writeFile(osRelease, 'ID=metal-lab\nPRETTY_NAME="metal lab installed system"\n');
  await writeFile(cmdline, spec.cmdline);
  const sections: [string, string][] = [
    [".osrel", osRelease],
    [".cmdline", cmdline],
    [".linux", spec.kernel],
    [".initrd", spec.initrd],
  ];
  let address = alignUp(stubEnd(await runTool(boot.objdump, ["-h", boot.stub]), boot.stub));
  const args: string[] = [];
  for (const [name, file] of sections) {
    args.push(
      "--add-section",
      `${name}=${file}`,
      "--change-section-vma",
      `${name}=0x${address.toString(16)}`,
    );
    address = alignUp(address + (await stat(file)).size);
  }
  await runTool(boot.objcopy, [...args, boot.stub, output]);
  const image = await readFile(output);
  stampPeImage(image, fatTimestamp());
  await writeFile(output, image);
}

/**
 * objcopy (binutils 2.40) writes the current time into the PE header whatever
 * SOURCE_DATE_EPOCH says; set it ourselves and recompute the header checksum to match
 * (PE/COFF spec: 16-bit one's-complement-style sum over the file, checksum field skipped,
 * plus the file length).
 */
export function stampPeImage(image: Buffer, seconds: number): void {
  const peHeader = image.readUInt32LE(PE_HEADER_POINTER_OFFSET);
  image.writeUInt32LE(seconds >>> 0, peHeader + PE_TIMESTAMP_OFFSET);
  const checksumOffset = peHeader + PE_CHECKSUM_OFFSET;
  image.writeUInt32LE(0, checksumOffset);
  let sum = 0;
  for (let offset = 0; offset < image.length; offset += 2) {
    if (offset === checksumOffset || offset === checksumOffset + 2) continue;
    const word = offset + 1 < image.length ? image.readUInt16LE(offset) : image[offset]!;
    sum += word;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  image.writeUInt32LE(((sum & 0xffff) + image.length) >>> 0, checksumOffset);
}

/** End address of the stub's last section, from `objdump -h`. */
export function stubEnd(objdumpHeaders: string, stub: string = BOOT_FILES.efiStub): number {
  let end = 0;
  for (const match of objdumpHeaders.matchAll(
    /^\s*\d+\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+[0-9a-f]+\s+2\*\*\d+/gm,
  )) {
    end = Math.max(end, Number.parseInt(match[2]!, 16) + Number.parseInt(match[1]!, 16));
  }
  if (end === 0)
    throw new LabConfigError(
      `objdump -h ${stub} listed no sections; reinstall systemd-boot-efi (or, for arm64, remove it from the lab cache)`,
    );
  return end;
}

function fatTimestamp(): number {
  const fromEnvironment = Number(process.env.SOURCE_DATE_EPOCH);
  return Number.isInteger(fromEnvironment) && fromEnvironment > FAT_EPOCH_SECONDS
    ? fromEnvironment
    : FAT_EPOCH_SECONDS;
}

function alignUp(value: number): number {
  return Math.ceil(value / UKI_SECTION_ALIGNMENT) * UKI_SECTION_ALIGNMENT;
}

async function createSparseFile(path: string, bytes: number): Promise<void> {
  const handle = await open(path, "w");
  try {
    await handle.truncate(bytes);
  } finally {
    await handle.close();
  }
}

/**
 * Copies `source` into `target` at `position`, leaving out blocks of zeros: the target is a
 * fresh sparse file, so they read as zeros anyway, and a 1 GiB ESP that holds 30 MiB of files
 * then costs 30 MiB of writes and memory instead of 1 GiB.
 */
async function copyDataBlocks(source: string, target: string, position: number): Promise<void> {
  const input = await open(source, "r");
  const output = await open(target, "r+");
  try {
    const block = Buffer.alloc(COPY_BLOCK_BYTES);
    for (let offset = 0; ; offset += COPY_BLOCK_BYTES) {
      const { bytesRead } = await input.read(block, 0, COPY_BLOCK_BYTES, offset);
      if (bytesRead === 0) break;
      const data = block.subarray(0, bytesRead);
      if (!data.equals(ZERO_BLOCK.subarray(0, bytesRead)))
        await output.write(data, 0, bytesRead, position + offset);
    }
  } finally {
    await input.close();
    await output.close();
  }
}

async function writeAt(path: string, data: Uint8Array, position: number): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.write(data, 0, data.length, position);
  } finally {
    await handle.close();
  }
}
