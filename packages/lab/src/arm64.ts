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
import { copyFile, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LabConfigError } from "./errors.js";
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
/** The module directory sits next to its cache entry's marker file, in `<entry>/modules`. */
const MODULES_SUFFIX = "/modules";
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

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

/** The arm64-efi module directory of Debian's grub-efi-arm64-bin, unpacked into the cache. */
export async function fetchGrubModulesArm64(options: Arm64Options = {}): Promise<string> {
  const moduleList = await cached(
    options,
    "grub-arm64-efi",
    "moddep.lst",
    async (scratch, target) => {
      const deb = await downloadPackage(debianPackageName("grub-efi-arm64-bin", "arm64"), scratch);
      const root = join(scratch, "root");
      await extractMembers(deb, root, [`./${GRUB_MODULE_DIR}/*`]);
      await rename(join(root, GRUB_MODULE_DIR), dirname(target) + MODULES_SUFFIX);
      await copyFile(join(dirname(target) + MODULES_SUFFIX, "moddep.lst"), target);
    },
  );
  return dirname(moduleList) + MODULES_SUFFIX;
}

/**
 * GRUB's arm64 network image for a PXE server at `serverAddress`, written to `output`.
 *
 * The address is built in because GRUB 2.06 cannot find a proxyDHCP server by itself: its
 * efinet reads only the firmware's cached DHCP ACK (the home router's), never the proxy offer
 * (measured with Debian's 2.06-13: with the address from the ACK it asks the router for
 * `/grub/grub.cfg` and stops at a GRUB prompt). The embedded config runs before normal mode
 * reads `$prefix/grub.cfg`, so setting the prefix there points it at us (ADR 0190).
 */
export async function buildGrubNetImageArm64(
  options: Arm64Options & { readonly serverAddress: string; readonly output: string },
): Promise<string> {
  if (!IPV4.test(options.serverAddress))
    throw new LabConfigError(
      `GRUB image: server address "${options.serverAddress}" is not an IPv4 address`,
    );
  const modules = await fetchGrubModulesArm64(options);
  const scratch = await mkdtemp(join(tmpdir(), "metal-lab-grub-"));
  try {
    const embedded = join(scratch, "embedded.cfg");
    await writeFile(embedded, `set prefix=(tftp,${options.serverAddress})${GRUB_PREFIX}\n`);
    await runTool("grub-mkimage", [
      "--format=arm64-efi",
      `--directory=${modules}`,
      `--prefix=${GRUB_PREFIX}`,
      `--config=${embedded}`,
      `--output=${options.output}`,
      ...GRUB_MODULES,
    ]);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return options.output;
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
