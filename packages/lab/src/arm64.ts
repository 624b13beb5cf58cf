/**
 * The arm64 parts of the lab that come from Debian's arm64 packages (a foreign architecture on
 * the amd64 host: `dpkg --add-architecture arm64`, see scripts/bootstrap.sh):
 *  - busybox-static:arm64, the stand-in installer's userland;
 *  - GRUB's network image for arm64 UEFI, the first stage netboot serves for option 93 = 11
 *    (ADR 0190), built with the host's `grub-mkimage` (grub-common) from the modules of
 *    grub-efi-arm64-bin:arm64. Debian's signed grubnetaa64.efi.signed has no `http` module
 *    (measured: it fetches only over TFTP), and a 32 MiB arm64 kernel over lock-step TFTP is
 *    what every netboot project avoids (PXE-FACTS §7).
 * Both are cached like the kernel (kernel.ts): fetched once, published with one rename.
 */
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { runTool } from "./host-tool.js";
import {
  debianPackageName,
  defaultCacheDir,
  downloadPackage,
  exists,
  extractMembers,
  publish,
} from "./kernel.js";

/** What the lab's GRUB network image is called in a first-stage directory (netboot's table). */
export const GRUB_NET_IMAGE_ARM64 = "grubnetaa64.efi";
/**
 * GRUB's prefix: the image reads `$prefix/grub.cfg`, on the TFTP server it was loaded from
 * (netboot writes `grub/grub.cfg` there). `/grub` is also what Debian's signed network image
 * uses (measured: it asks for `/grub/grub.cfg`), so either image finds the same file.
 */
const GRUB_PREFIX = "/grub";
/**
 * Modules built into the image (grub-mkimage resolves their dependencies): the UEFI network
 * driver and TCP/IP (efinet, net), both transfer protocols (tftp for the prefix config, http
 * for the rest), the arm64 Linux loader, and the commands netboot's configs use (configfile,
 * echo, sleep; exit is in minicmd).
 */
const GRUB_MODULES = [
  "efinet",
  "net",
  "tftp",
  "http",
  "linux",
  "normal",
  "configfile",
  "echo",
  "sleep",
  "minicmd",
];
const GRUB_MODULE_DIR = "usr/lib/grub/arm64-efi";

export interface Arm64Options {
  /** Default: the lab cache (~/.cache/metal-lab or $METAL_LAB_CACHE). */
  readonly cacheDir?: string;
}

/** Debian's busybox-static for arm64: the path of its `busybox` binary in the cache. */
export async function fetchBusyboxArm64(options: Arm64Options = {}): Promise<string> {
  return cached(options, "busybox-arm64", "busybox", async (scratch, target) => {
    const deb = await downloadPackage(debianPackageName("busybox-static", "arm64"), scratch);
    await extractMembers(deb, join(scratch, "root"), ["./bin/busybox"]);
    await copyFile(join(scratch, "root", "bin", "busybox"), target);
  });
}

/** GRUB's arm64 network image (see the module comment): the path of `grubnetaa64.efi`. */
export async function fetchGrubNetImageArm64(options: Arm64Options = {}): Promise<string> {
  return cached(options, "grub-net-arm64", GRUB_NET_IMAGE_ARM64, async (scratch, target) => {
    const deb = await downloadPackage(debianPackageName("grub-efi-arm64-bin", "arm64"), scratch);
    const root = join(scratch, "root");
    await extractMembers(deb, root, [`./${GRUB_MODULE_DIR}/*`]);
    await runTool("grub-mkimage", [
      "--format=arm64-efi",
      `--directory=${join(root, GRUB_MODULE_DIR)}`,
      `--prefix=${GRUB_PREFIX}`,
      `--output=${target}`,
      ...GRUB_MODULES,
    ]);
  });
}

/** One file in the cache under `entryName/fileName`, made by `make` on first use. */
async function cached(
  options: Arm64Options,
  entryName: string,
  fileName: string,
  make: (scratch: string, target: string) => Promise<void>,
): Promise<string> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const entry = join(cacheDir, entryName);
  const file = join(entry, fileName);
  if (await exists(file)) return file;
  await mkdir(cacheDir, { recursive: true });
  const scratch = await mkdtemp(join(cacheDir, `.${entryName}-`));
  try {
    const staged = join(scratch, "entry");
    await mkdir(staged);
    await make(scratch, join(staged, fileName));
    await publish(staged, entry);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return file;
}
