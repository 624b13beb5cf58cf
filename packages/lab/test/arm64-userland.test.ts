/**
 * The arm64 parts of the stand-in installer and installed system (ADR 0300): dropbear's files
 * found from the programs' own ELF headers (no ldd for arm64 here), and a disk whose ESP boots
 * on AAVMF. The fetches use Debian's arm64 packages once, then the lab cache.
 */
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fetchDropbearArm64 } from "../src/arm64.js";
import { buildDiskImage } from "../src/disk-image.js";
import { parseInterpreter, parseNeeded, parseRecursiveDepends } from "../src/elf-deps.js";
import { runTool } from "../src/host-tool.js";

/** ELF e_machine (offset 18) of AArch64, and PE's IMAGE_FILE_MACHINE_ARM64. */
const EM_AARCH64 = 0xb7;
const PE_MACHINE_ARM64 = 0xaa64;
const FETCH_TIMEOUT_MS = 300_000;

describe("ELF and apt parsers", () => {
  it("reads DT_NEEDED sonames and the interpreter, and ignores other dynamic entries", () => {
    const dynamic = [
      "Dynamic section at offset 0x29750 contains 31 entries:",
      "  Tag        Type                         Name/Value",
      " 0x0000000000000001 (NEEDED)             Shared library: [libtomcrypt.so.1]",
      " 0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]",
      " 0x000000000000000e (SONAME)             Library soname: [libz.so.1]",
      " 0x0000000000000001 (NEEDED)             Shared library: [../../evil.so]",
    ].join("\n");
    expect(parseNeeded(dynamic)).toEqual(["libtomcrypt.so.1", "libc.so.6"]);
    expect(
      parseInterpreter("      [Requesting program interpreter: /lib/ld-linux-aarch64.so.1]\n"),
    ).toBe("/lib/ld-linux-aarch64.so.1");
    expect(parseInterpreter("There are no program headers in this file.")).toBeUndefined();
  });

  it("takes the package names of apt-cache depends --recurse, once each, not its edges", () => {
    const output = [
      "dropbear-bin:arm64",
      "  Depends: libc6:arm64",
      "  Depends: zlib1g:arm64",
      "libc6:arm64",
      "  Depends: libgcc-s1:arm64",
      "<debconf-2.0>",
      "libc6:arm64",
    ].join("\n");
    expect(parseRecursiveDepends(output)).toEqual(["dropbear-bin:arm64", "libc6:arm64"]);
  });
});

async function elfMachine(path: string): Promise<number> {
  return (await readFile(path)).readUInt16LE(18);
}

describe("arm64 userland and disk", () => {
  it(
    "collects arm64 dropbear, dropbearconvert, their loader and every library they need",
    async () => {
      const files = await fetchDropbearArm64();
      const paths = files.map((file) => file.path);
      expect(paths).toEqual(
        expect.arrayContaining([
          "/usr/sbin/dropbear",
          "/usr/bin/dropbearconvert",
          "/lib/ld-linux-aarch64.so.1",
          "/lib/aarch64-linux-gnu/libc.so.6",
        ]),
      );
      for (const file of files) {
        expect(await elfMachine(file.source), file.path).toBe(EM_AARCH64);
        // Every soname a file needs is among the files (libtomcrypt's libgmp included).
        for (const soname of parseNeeded(await runTool("readelf", ["-dW", file.source])))
          expect(
            paths.some((path) => path.endsWith(`/${soname}`)),
            `${file.path}: ${soname}`,
          ).toBe(true);
      }
    },
    FETCH_TIMEOUT_MS,
  );

  it(
    "puts an arm64 unified kernel image at \\EFI\\BOOT\\BOOTAA64.EFI and no BIOS boot code",
    async () => {
      const scratch = await mkdtemp(join(tmpdir(), "metal-lab-arm64-disk-"));
      try {
        const kernel = join(scratch, "vmlinuz");
        const initrd = join(scratch, "initrd");
        await writeFile(kernel, "arm64 kernel");
        await writeFile(initrd, "initrd");
        const image = join(scratch, "disk.img");
        const built = await buildDiskImage(
          {
            kernel,
            initrd,
            cmdline: "console=ttyAMA0",
            diskSizeMiB: 64,
            espSizeMiB: 40,
            arch: "arm64",
          },
          image,
        );
        const esp = `${image}@@${built.partitions[0]!.startSector * 512}`;
        const env = { env: { MTOOLS_SKIP_CHECK: "1" } };
        const listing = await runTool("mdir", ["-i", esp, "-b", "::/", "::/EFI/BOOT"], env);
        expect(listing).toContain("BOOTAA64.EFI");
        expect(listing).not.toMatch(/ldlinux|syslinux|BOOTX64/i);
        const uki = join(scratch, "BOOTAA64.EFI");
        await runTool("mcopy", ["-i", esp, "::/EFI/BOOT/BOOTAA64.EFI", uki], env);
        const pe = await readFile(uki);
        expect(pe.readUInt16LE(pe.readUInt32LE(0x3c) + 4)).toBe(PE_MACHINE_ARM64);
        const sections = await runTool("aarch64-linux-gnu-objdump", ["-h", uki]);
        for (const name of [".osrel", ".cmdline", ".linux", ".initrd"])
          expect(sections).toContain(name);
        // No gptmbr.bin: the protective MBR's boot code area stays zero.
        const handle = await open(image, "r");
        const mbr = Buffer.alloc(440);
        await handle.read(mbr, 0, 440, 0);
        await handle.close();
        expect(mbr.equals(Buffer.alloc(440))).toBe(true);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
    FETCH_TIMEOUT_MS,
  );
});
