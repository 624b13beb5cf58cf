/**
 * Debian's kernel for lab machines, fetched without touching /boot: `apt-get download` the
 * versioned linux-image package, unpack only vmlinuz and the modules a lab machine needs into
 * a scratch directory, and publish that into the cache with one atomic rename so
 * concurrent callers never see (or corrupt) a half-written entry.
 */
import { mkdir, mkdtemp, readdir, rename, rm, copyFile, access } from "node:fs/promises";
import { homedir } from "node:os";
import { createHash } from "node:crypto";
import { join, basename } from "node:path";
import { execa, ExecaError } from "execa";
import { KernelFetchError } from "./errors.js";
import { runTool } from "./host-tool.js";

/** A kernel module file and the name `insmod` order refers to it by. */
export interface KernelModule {
  readonly name: string;
  /** Absolute path of the uncompressed .ko file. */
  readonly path: string;
}

/** Debian architectures the lab boots: x86-64 machines, and arm64 ones under qemu-system-aarch64. */
export type DebianArch = "amd64" | "arm64";

export interface LabKernel {
  /** Debian's ABI version, e.g. "6.1.0-56". */
  readonly version: string;
  readonly arch: DebianArch;
  readonly vmlinuz: string;
  /** Modules in the order they must be loaded (the .deb has no modules.dep for us to read). */
  readonly modules: readonly KernelModule[];
  /**
   * The UEFI variable filesystem (`efibootmgr` reads and writes Boot#### and BootNext through
   * it). Not in `modules`: it loads only on a kernel started by UEFI firmware, so an image
   * loads it on its own when `/sys/firmware/efi` exists (initPreamble's `efivars`).
   */
  readonly efivarfs: KernelModule;
}

export interface KernelOptions {
  /** Where kernels are cached (default ~/.cache/metal-lab, or $METAL_LAB_CACHE). */
  readonly cacheDir?: string;
  /** Debian ABI version such as "6.1.0-56"; default: what linux-image-ARCH depends on. */
  readonly version?: string;
  /** Default amd64; arm64 needs `dpkg --add-architecture arm64` (scripts/bootstrap.sh). */
  readonly arch?: DebianArch;
}

/**
 * Modules in load order, relative to lib/modules/VERSION/kernel. Order from LAB-NOTES: the
 * virtio transport chain, then virtio-net's failover helpers, then the drivers; e1000/e1000e
 * have no dependencies and cost under 1 MiB.
 */
export const LAB_MODULES: readonly string[] = [
  "drivers/virtio/virtio_ring",
  "drivers/virtio/virtio",
  "drivers/virtio/virtio_pci_modern_dev",
  "drivers/virtio/virtio_pci_legacy_dev",
  "drivers/virtio/virtio_pci",
  "net/core/failover",
  "drivers/net/net_failover",
  "drivers/net/virtio_net",
  "drivers/block/virtio_blk",
  "drivers/net/ethernet/intel/e1000/e1000",
  "drivers/net/ethernet/intel/e1000e/e1000e",
];

/**
 * arm64 (Debian's `-arm64` flavour) builds virtio_ring and virtio in (CONFIG_VIRTIO=y in its
 * config-VERSION-arm64) and QEMU's `virt` machine has no e1000: the rest of the chain, in the
 * same order.
 */
export const LAB_MODULES_ARM64: readonly string[] = [
  "drivers/virtio/virtio_pci_modern_dev",
  "drivers/virtio/virtio_pci_legacy_dev",
  "drivers/virtio/virtio_pci",
  "net/core/failover",
  "drivers/net/net_failover",
  "drivers/net/virtio_net",
  "drivers/block/virtio_blk",
];

/**
 * Debian builds efivarfs as a module on both architectures (CONFIG_EFIVAR_FS=m in
 * /boot/config-VERSION-amd64 and -arm64 of linux-image-6.1.0-57) and it depends on no other
 * module (`modinfo`: empty depends).
 */
export const EFIVARFS_MODULE = "fs/efivarfs/efivarfs";

const MODULES_OF: Readonly<Record<DebianArch, readonly string[]>> = {
  amd64: LAB_MODULES,
  arm64: LAB_MODULES_ARM64,
};

/** Suffixes a module may carry in a .deb, with the command that decompresses it in place. */
const MODULE_SUFFIXES: readonly { suffix: string; decompress?: readonly string[] }[] = [
  { suffix: ".ko" },
  { suffix: ".ko.xz", decompress: ["xz", "-d"] },
  { suffix: ".ko.zst", decompress: ["zstd", "-d", "--rm", "-q"] },
];

export function defaultCacheDir(): string {
  return process.env.METAL_LAB_CACHE ?? join(homedir(), ".cache", "metal-lab");
}

/** apt's name for a package of `arch` (the host is amd64; arm64 is a foreign architecture). */
export function debianPackageName(name: string, arch: DebianArch): string {
  return arch === "amd64" ? name : `${name}:${arch}`;
}

/** Reads the ABI version linux-image-ARCH currently depends on from apt's local cache. */
export async function currentKernelVersion(arch: DebianArch = "amd64"): Promise<string> {
  const metaPackage = debianPackageName(`linux-image-${arch}`, arch);
  const output = await runTool("apt-cache", ["depends", metaPackage]);
  const match = new RegExp(`Depends:\\s+linux-image-(\\S+)-${arch}\\b`).exec(output);
  if (!match?.[1])
    throw new KernelFetchError(
      `${metaPackage} names no linux-image-VERSION-${arch} dependency in apt's cache; ` +
        (arch === "amd64" ? "" : `run \`dpkg --add-architecture ${arch}\` and `) +
        "run `apt-get update` (scripts/bootstrap.sh does both), or pass the version (e.g. 6.1.0-56) explicitly",
    );
  return match[1];
}

/** Returns the cached kernel of `version`, downloading and unpacking it on first use. */
export async function fetchKernel(options: KernelOptions = {}): Promise<LabKernel> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const arch = options.arch ?? "amd64";
  const version = options.version ?? (await currentKernelVersion(arch));
  const entry = join(cacheDir, kernelCacheEntryName(version, arch));
  if (!(await exists(join(entry, "vmlinuz")))) await populate(cacheDir, entry, version, arch);
  const moduleAt = (relative: string): KernelModule => {
    const name = basename(relative);
    return { name, path: join(entry, "modules", `${name}.ko`) };
  };
  return {
    version,
    arch,
    vmlinuz: join(entry, "vmlinuz"),
    modules: MODULES_OF[arch].map(moduleAt),
    efivarfs: moduleAt(EFIVARFS_MODULE),
  };
}

/** Every module a cache entry holds, in load order, then efivarfs. */
function cachedModules(arch: DebianArch): readonly string[] {
  return [...MODULES_OF[arch], EFIVARFS_MODULE];
}

const MODULE_SET_TAG_LENGTH = 8;

/**
 * A cache entry is complete once published, so its name carries the module set it holds: a
 * module added to the lists gets a new entry instead of an old one missing the file.
 */
export function kernelCacheEntryName(version: string, arch: DebianArch): string {
  const tag = createHash("sha256")
    .update(cachedModules(arch).join("\n"))
    .digest("hex")
    .slice(0, MODULE_SET_TAG_LENGTH);
  return `kernel-${version}-${arch}-${tag}`;
}

async function populate(
  cacheDir: string,
  entry: string,
  version: string,
  arch: DebianArch,
): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const scratch = await mkdtemp(join(cacheDir, `.kernel-${version}-`));
  try {
    const deb = await downloadPackage(
      debianPackageName(`linux-image-${version}-${arch}`, arch),
      scratch,
    );
    const unpacked = join(scratch, "root");
    const modules = cachedModules(arch);
    await extractMembers(deb, unpacked, [
      `./boot/vmlinuz-${version}-${arch}`,
      ...modules.map((relative) => `./lib/modules/${version}-${arch}/kernel/${relative}.ko*`),
    ]);
    const staged = join(scratch, "entry");
    await mkdir(join(staged, "modules"), { recursive: true });
    await copyFile(join(unpacked, "boot", `vmlinuz-${version}-${arch}`), join(staged, "vmlinuz"));
    const moduleRoot = join(unpacked, "lib", "modules", `${version}-${arch}`, "kernel");
    for (const relative of modules)
      await stageModule(join(moduleRoot, relative), join(staged, "modules", basename(relative)));
    await publish(staged, entry);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** `apt-get download`s one package into `dir` and returns the .deb's path. */
export async function downloadPackage(debianPackage: string, dir: string): Promise<string> {
  await runTool("apt-get", ["download", debianPackage], { cwd: dir });
  const deb = (await readdir(dir)).find((file) => file.endsWith(".deb"));
  if (!deb)
    throw new KernelFetchError(
      `apt-get download ${debianPackage} produced no .deb; check the version and apt sources`,
    );
  return join(dir, deb);
}

/**
 * Unpacks only the members we keep (`dpkg-deb -x` would write ~400 MB of modules), streaming
 * the package's data tarball into tar.
 */
export async function extractMembers(
  deb: string,
  target: string,
  patterns: readonly string[],
): Promise<void> {
  await mkdir(target, { recursive: true });
  try {
    // buffer: false, or execa would hold (and cut off at maxBuffer) the ~400 MB tarball.
    await execa("dpkg-deb", ["--fsys-tarfile", deb], { buffer: false }).pipe("tar", [
      "-x",
      "-C",
      target,
      "--wildcards",
      ...patterns,
    ]);
  } catch (error) {
    if (!(error instanceof ExecaError)) throw error;
    throw new KernelFetchError(
      `could not unpack ${basename(deb)} (dpkg-deb --fsys-tarfile | tar -x): ` +
        `${error.shortMessage}; check that dpkg and tar are installed and the .deb is complete`,
    );
  }
}

async function stageModule(source: string, target: string): Promise<void> {
  for (const { suffix, decompress } of MODULE_SUFFIXES) {
    if (!(await exists(source + suffix))) continue;
    await copyFile(source + suffix, target + suffix);
    if (decompress) {
      const [tool, ...args] = decompress;
      await runTool(tool!, [...args, target + suffix]);
    }
    return;
  }
  throw new KernelFetchError(
    `module ${basename(source)} is not in the kernel package (looked for ${source}.ko[.xz|.zst]); ` +
      "this kernel may build it in or name it differently: pass another version",
  );
}

/** Atomic publish: whoever renames first wins; a loser's identical copy is simply dropped. */
export async function publish(staged: string, entry: string): Promise<void> {
  try {
    await rename(staged, entry);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
