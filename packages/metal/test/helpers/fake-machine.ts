/**
 * A fake machine for the callback agent (nix/installer/metal-agent.sh): a /proc, /sys and /dev
 * tree in a temporary directory, and the environment that points the agent at it. Shared by the
 * loopback tests and the network-namespace tests.
 */
import { access, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const AGENT = fileURLToPath(
  new URL("../../../../nix/installer/metal-agent.sh", import.meta.url),
);
export const BUSYBOX = "/usr/bin/busybox";
/** What the agent calls; the busybox runs get only these, so they cannot fall back to curl. */
const BUSYBOX_APPLETS = [
  "wget",
  "sed",
  "tr",
  "head",
  "tail",
  "cat",
  "od",
  "sleep",
  "ip",
  "readlink",
  "mktemp",
  "rm",
];
export const TOKEN = "mt1.k3Vx_abc-DEF.9";
export const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxv root@nixos";
export const BOOTIF_MAC = "52:54:00:ab:12:34";
/** The MAC the fake /sys gives the interface that routes to the callback server. */
export const ROUTE_INTERFACE_MAC = "52:54:00:cd:56:78";
const BACKOFF_FOR_TESTS = { METAL_BACKOFF_INITIAL_MS: "50", METAL_BACKOFF_MAX_MS: "200" };

export const EXPECTED_DISKS = [
  {
    name: "nvme0n1",
    path: "/dev/nvme0n1",
    sizeBytes: 1000215216 * 512,
    model: 'Samsung "SSD" 980\\pro',
    serial: "S64DNF0R123456",
    byId: ["/dev/disk/by-id/nvme-Samsung_SSD_980_S64DNF0R123456"],
  },
  { name: "vda", path: "/dev/vda", sizeBytes: 41943040 * 512, byId: [] },
];
export const EXPECTED_MEMORY_BYTES = 4017500 * 1024;

async function writeTree(
  root: string,
  files: Record<string, string>,
  links: Record<string, string>,
) {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  for (const [path, target] of Object.entries(links)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await symlink(target, join(root, path));
  }
}

export interface FakeMachineOptions {
  /** Base URL of the callback API. */
  readonly callback: string;
  /** The interface the kernel routes to the callback server through (lo, or eth0 in a namespace). */
  readonly routeInterface: string;
  /** The whole kernel command line, when a real boot policy made it. */
  readonly cmdline?: string;
  readonly routeInterfaceMac?: string;
}

/**
 * Writes the tree under `root`: UEFI, 4 GB, an NVMe disk with model, serial and by-id links, a
 * 20 GiB virtio disk, and devices the agent must skip (loop, sr, dm).
 */
export async function fakeMachine(root: string, options: FakeMachineOptions) {
  const { callback, routeInterface } = options;
  const cmdline =
    options.cmdline ??
    `BOOT_IMAGE=/bzImage init=/nix/store/x-nixos/init loglevel=4 metal.callback=${callback} metal.token=${TOKEN} metal.host=node1 BOOTIF=01-52-54-00-AB-12-34`;
  await writeTree(
    root,
    {
      "proc/cmdline": `${cmdline}\n`,
      "proc/meminfo": "MemTotal:        4017500 kB\nMemFree:         3000000 kB\n",
      "proc/sys/kernel/hostname": "nixos\n",
      "sys/firmware/efi/systab": "",
      "sys/block/nvme0n1/size": "1000215216\n",
      "sys/block/nvme0n1/device/model": 'Samsung "SSD" 980\\pro                 \n',
      "sys/block/nvme0n1/device/serial": "S64DNF0R123456\n",
      "sys/block/vda/size": "41943040\n",
      "sys/block/loop0/size": "2048\n",
      "sys/block/sr0/size": "2048\n",
      "sys/block/dm-0/size": "2048\n",
      [`sys/class/net/${routeInterface}/address`]: `${options.routeInterfaceMac ?? ROUTE_INTERFACE_MAC}\n`,
      "etc/ssh/ssh_host_ed25519_key.pub": `${SSH_KEY}\n`,
      "var/lib/metal/callback.env": `METAL_CALLBACK=${callback}\nMETAL_TOKEN=${TOKEN}\n`,
    },
    {
      "dev/disk/by-id/nvme-Samsung_SSD_980_S64DNF0R123456": "../../nvme0n1",
      "dev/disk/by-id/nvme-Samsung_SSD_980_S64DNF0R123456-part1": "../../nvme0n1p1",
    },
  );
}

/** A PATH holding only busybox applets, so the agent runs as in the lab's initramfs. */
export async function busyboxPath(work: string): Promise<string> {
  const bin = join(work, "busybox-bin");
  await rm(bin, { recursive: true, force: true });
  await mkdir(bin, { recursive: true });
  for (const applet of BUSYBOX_APPLETS) await symlink(BUSYBOX, join(bin, applet));
  return bin;
}

/** The agent's whole environment: the fake tree, short back-off, and `path` as PATH. */
export function agentEnv(root: string, work: string, path: string): Record<string, string> {
  return {
    PATH: path,
    TMPDIR: work,
    METAL_CMDLINE: join(root, "proc/cmdline"),
    METAL_SYS: join(root, "sys"),
    METAL_PROC: join(root, "proc"),
    METAL_DEV: join(root, "dev"),
    METAL_SSH_HOST_KEY: join(root, "etc/ssh/ssh_host_ed25519_key.pub"),
    METAL_CALLBACK_ENV: join(root, "var/lib/metal/callback.env"),
    ...BACKOFF_FOR_TESTS,
  };
}

/** A shell the agent runs under, as on one kind of machine. */
export interface Shell {
  readonly name: string;
  readonly available: () => Promise<boolean>;
  /** argv that runs the agent in `mode`. */
  readonly argv: (mode: string) => [string, string[]];
  /** PATH for the agent: busybox gets only its own applets, so it must use busybox wget. */
  readonly path: (work: string) => Promise<string>;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

export const SHELLS: readonly Shell[] = [
  {
    name: "dash with curl (the NixOS installer)",
    available: () => exists("/bin/dash"),
    argv: (mode) => ["/bin/dash", [AGENT, mode]],
    path: async () => process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
  },
  {
    name: "busybox sh with busybox wget (the lab's initramfs)",
    available: () => exists(BUSYBOX),
    argv: (mode) => [BUSYBOX, ["sh", AGENT, mode]],
    path: busyboxPath,
  },
];
