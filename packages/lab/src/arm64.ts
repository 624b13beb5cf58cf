/**
 * The arm64 parts of the lab that come from Debian's arm64 packages (a foreign architecture on
 * the amd64 host: `dpkg --add-architecture arm64`, see scripts/bootstrap.sh):
 *  - busybox-static:arm64, the stand-in installer's userland;
 *  - dropbear-bin:arm64 with the shared libraries it needs (its packages' closure from apt,
 *    the files from each program's DT_NEEDED and PT_INTERP: no `ldd` runs arm64 code here);
 *  - systemd's arm64 EFI stub (systemd-boot-efi:arm64), the front of the installed system's
 *    unified kernel image (disk-image.ts);
 *  - GRUB's network image for arm64 UEFI, the first stage netboot serves for option 93 = 11
 *    (ADR 0190), built with the host's `grub-mkimage` (grub-common) from the modules of
 *    grub-efi-arm64-bin:arm64. Debian's signed grubnetaa64.efi.signed has no `http` module
 *    (measured: it fetches only over TFTP), and a 32 MiB arm64 kernel over lock-step TFTP is
 *    what every netboot project avoids (PXE-FACTS §7).
 * Both are cached like the kernel (kernel.ts): fetched once, published with one rename.
 */
import {
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rename,
  rm,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, posix } from "node:path";
import { parseInterpreter, parseNeeded, parseRecursiveDepends } from "./elf-deps.js";
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
/** The dropbear programs the lab's arm64 initramfs runs (dropbearconvert: the installed system). */
export const DROPBEAR_PROGRAMS_ARM64 = ["/usr/sbin/dropbear", "/usr/bin/dropbearconvert"] as const;
/** Where Debian's arm64 libraries live (multiarch), searched in this order for a soname. */
const ARM64_LIBRARY_DIRS = [
  "/lib/aarch64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/lib",
  "/usr/lib",
];
/** apt-cache depends flags: only hard dependencies, which are what the programs link against. */
const DEPENDS_ONLY = [
  "--recurse",
  "--no-recommends",
  "--no-suggests",
  "--no-conflicts",
  "--no-breaks",
  "--no-replaces",
  "--no-enhances",
];
/** A chain of symlinks longer than this inside an unpacked package is refused (a loop). */
const MAX_SYMLINK_HOPS = 8;
/** systemd-boot-efi's arm64 stub (systemd 252 in bookworm: src/boot/efi/stub.c). */
const SYSTEMD_STUB_ARM64 = "usr/lib/systemd/boot/efi/linuxaa64.efi.stub";
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

/** A file for an initramfs: its path inside, and the file on this host that holds its bytes. */
export interface ImageFile {
  readonly path: string;
  readonly source: string;
}

/**
 * Debian's arm64 dropbear and dropbearconvert with every shared library they load and the
 * dynamic loader, as initramfs files at the paths the packages install them to.
 */
export async function fetchDropbearArm64(options: Arm64Options = {}): Promise<ImageFile[]> {
  const manifest = await cached(
    options,
    "dropbear-arm64",
    "files.json",
    async (scratch, target) => {
      const root = join(dirname(target), "root");
      const packages = parseRecursiveDepends(
        await runTool("apt-cache", [
          "depends",
          ...DEPENDS_ONLY,
          debianPackageName("dropbear-bin", "arm64"),
        ]),
      );
      for (const [index, name] of packages.entries()) {
        const dir = join(scratch, `deb-${index}`);
        await mkdir(dir);
        await runTool("dpkg-deb", ["-x", await downloadPackage(name, dir), root]);
      }
      const files = await closure(root, DROPBEAR_PROGRAMS_ARM64, packages);
      await writeFile(target, JSON.stringify(files));
    },
  );
  const root = join(dirname(manifest), "root");
  const paths = JSON.parse(await readFile(manifest, "utf8")) as string[];
  return Promise.all(
    paths.map(async (path) => ({ path, source: await resolveInRoot(root, path) })),
  );
}

/** The programs, their loader and their libraries, found by DT_NEEDED in the unpacked root. */
async function closure(
  root: string,
  programs: readonly string[],
  packages: readonly string[],
): Promise<string[]> {
  const files = new Set<string>();
  const pending = [...programs];
  while (pending.length > 0) {
    const path = pending.shift()!;
    if (files.has(path)) continue;
    files.add(path);
    const file = await resolveInRoot(root, path);
    const interpreter = parseInterpreter(await runTool("readelf", ["-lW", file]));
    if (interpreter) pending.push(interpreter);
    for (const soname of parseNeeded(await runTool("readelf", ["-dW", file]))) {
      const found = await findLibrary(root, soname);
      if (!found)
        throw new LabConfigError(
          `${path} (arm64) needs ${soname}, which none of ${packages.join(", ")} ships in ` +
            `${ARM64_LIBRARY_DIRS.join(", ")}; check \`apt-cache depends dropbear-bin:arm64\``,
        );
      pending.push(found);
    }
  }
  return [...files].sort();
}

async function findLibrary(root: string, soname: string): Promise<string | undefined> {
  for (const dir of ARM64_LIBRARY_DIRS) {
    const path = posix.join(dir, soname);
    if (await exists(join(root, path))) return path;
  }
  return undefined;
}

/**
 * The real file behind `path` inside an unpacked root, following symlinks inside that root: an
 * absolute link (e.g. /lib/ld-linux-aarch64.so.1) must not lead to the host's own file.
 */
async function resolveInRoot(root: string, path: string): Promise<string> {
  let current = path;
  for (let hop = 0; hop <= MAX_SYMLINK_HOPS; hop++) {
    const onHost = join(root, current);
    const info = await lstat(onHost).catch(() => undefined);
    if (!info)
      throw new LabConfigError(`${current} is not in the unpacked arm64 packages under ${root}`);
    if (!info.isSymbolicLink()) return onHost;
    const target = await readlink(onHost);
    current = isAbsolute(target) ? target : posix.join(posix.dirname(current), target);
  }
  throw new LabConfigError(`${path} in ${root} is a chain of more than ${MAX_SYMLINK_HOPS} links`);
}

/** systemd's arm64 EFI stub (linuxaa64.efi.stub), unpacked into the cache. */
export async function fetchSystemdStubArm64(options: Arm64Options = {}): Promise<string> {
  return cached(options, "systemd-stub-arm64", "linuxaa64.efi.stub", async (scratch, target) => {
    const deb = await downloadPackage(debianPackageName("systemd-boot-efi", "arm64"), scratch);
    await extractMembers(deb, join(scratch, "root"), [`./${SYSTEMD_STUB_ARM64}`]);
    await copyFile(join(scratch, "root", SYSTEMD_STUB_ARM64), target);
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
