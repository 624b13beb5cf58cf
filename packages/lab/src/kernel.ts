/**
 * Debian's kernel for lab machines, fetched without touching /boot: `apt-get download` the
 * versioned linux-image package, unpack only vmlinuz and the modules a lab machine needs into
 * a scratch directory, and publish that into the cache with one atomic rename so
 * concurrent callers never see (or corrupt) a half-written entry.
 */
import { mkdir, mkdtemp, readdir, rename, rm, copyFile, access } from "node:fs/promises";
import { homedir } from "node:os";
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

export interface LabKernel {
  /** Debian's ABI version, e.g. "6.1.0-56". */
  readonly version: string;
  readonly vmlinuz: string;
  /** Modules in the order they must be loaded (the .deb has no modules.dep for us to read). */
  readonly modules: readonly KernelModule[];
}

export interface KernelOptions {
  /** Where kernels are cached (default ~/.cache/metal-lab, or $METAL_LAB_CACHE). */
  readonly cacheDir?: string;
  /** Debian ABI version such as "6.1.0-56"; default: what linux-image-amd64 depends on. */
  readonly version?: string;
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

/** Suffixes a module may carry in a .deb, with the command that decompresses it in place. */
const MODULE_SUFFIXES: readonly { suffix: string; decompress?: readonly string[] }[] = [
  { suffix: ".ko" },
  { suffix: ".ko.xz", decompress: ["xz", "-d"] },
  { suffix: ".ko.zst", decompress: ["zstd", "-d", "--rm", "-q"] },
];

const META_PACKAGE = "linux-image-amd64";

export function defaultCacheDir(): string {
  return process.env.METAL_LAB_CACHE ?? join(homedir(), ".cache", "metal-lab");
}

/** Reads the ABI version linux-image-amd64 currently depends on from apt's local cache. */
export async function currentKernelVersion(): Promise<string> {
  const output = await runTool("apt-cache", ["depends", META_PACKAGE]);
  const match = /Depends:\s+linux-image-(\S+)-amd64\b/.exec(output);
  if (!match?.[1])
    throw new KernelFetchError(
      `${META_PACKAGE} names no linux-image-VERSION-amd64 dependency in apt's cache; ` +
        "run `apt-get update`, or pass the version (e.g. 6.1.0-56) explicitly",
    );
  return match[1];
}

/** Returns the cached kernel of `version`, downloading and unpacking it on first use. */
export async function fetchKernel(options: KernelOptions = {}): Promise<LabKernel> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const version = options.version ?? (await currentKernelVersion());
  const entry = join(cacheDir, `kernel-${version}`);
  if (!(await exists(join(entry, "vmlinuz")))) await populate(cacheDir, entry, version);
  return {
    version,
    vmlinuz: join(entry, "vmlinuz"),
    modules: LAB_MODULES.map((relative) => {
      const name = basename(relative);
      return { name, path: join(entry, "modules", `${name}.ko`) };
    }),
  };
}

async function populate(cacheDir: string, entry: string, version: string): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const scratch = await mkdtemp(join(cacheDir, `.kernel-${version}-`));
  try {
    const debianPackage = `linux-image-${version}-amd64`;
    await runTool("apt-get", ["download", debianPackage], { cwd: scratch });
    const deb = (await readdir(scratch)).find((file) => file.endsWith(".deb"));
    if (!deb)
      throw new KernelFetchError(
        `apt-get download ${debianPackage} produced no .deb; check the version and apt sources`,
      );
    const unpacked = join(scratch, "root");
    await extractMembers(join(scratch, deb), unpacked, [
      `./boot/vmlinuz-${version}-amd64`,
      ...LAB_MODULES.map((relative) => `./lib/modules/${version}-amd64/kernel/${relative}.ko*`),
    ]);
    const staged = join(scratch, "entry");
    await mkdir(join(staged, "modules"), { recursive: true });
    await copyFile(join(unpacked, "boot", `vmlinuz-${version}-amd64`), join(staged, "vmlinuz"));
    const moduleRoot = join(unpacked, "lib", "modules", `${version}-amd64`, "kernel");
    for (const relative of LAB_MODULES)
      await stageModule(join(moduleRoot, relative), join(staged, "modules", basename(relative)));
    await publish(staged, entry);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Unpacks only the members we keep (`dpkg-deb -x` would write ~400 MB of modules), streaming
 * the package's data tarball into tar.
 */
async function extractMembers(
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
async function publish(staged: string, entry: string): Promise<void> {
  try {
    await rename(staged, entry);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
