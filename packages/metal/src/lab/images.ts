/**
 * The two systems of the virtual lab, built from Debian's kernel and busybox (Nix cannot build
 * NixOS here):
 * - the stand-in installer, laid out as the installer directory `metal install` serves
 *   (`bzImage`, `initrd`, `cmdline`): DHCP from the home router, dropbear with the admin key as
 *   root's authorized key, then nix/installer/metal-agent.sh reports its facts;
 * - the "installed system" initrd that the lab's install command puts on each disk: the static
 *   address from the kernel command line, then the same agent reports the first boot with
 *   `/var/lib/metal/callback.env` and the host key from the install's extra files; dropbear
 *   serves SSH with that key and the admin key, so `metal reinstall` can reach it as it reaches
 *   a NixOS host; on x86_64 UEFI it mounts efivarfs and carries efibootmgr, so reinstall can
 *   set BootNext there too (the arm64 image mounts efivarfs but has no efibootmgr yet).
 * Both exist per architecture (ADR 0300): x86_64 from this host's busybox and dropbear, aarch64
 * from Debian's arm64 kernel, busybox-static:arm64 and dropbear-bin:arm64 (metal-lab arm64.ts).
 */
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  buildInitramfs,
  DROPBEAR_HOST_KEY_PATH,
  fetchBusyboxArm64,
  fetchDropbearArm64,
  fetchKernel,
  initPreamble,
  parseLddOutput,
  runTool,
  type ExtraFile,
  type ImageFile,
  type LabKernel,
} from "metal-lab";
import type { HostArch } from "../inventory/types.js";
import { sharedFile } from "../package-files.js";
import { HOST_KEY_TARGET } from "../secrets/extra-files.js";
import { LabSetupError } from "./errors.js";

/** The callback agent, shared with the NixOS installer (docs/callback-protocol.md). */
export const AGENT_SOURCE = sharedFile("nix/installer/metal-agent.sh");
const AGENT_PATH = "/lab/metal-agent.sh";
const EXECUTABLE_MODE = 0o755;
const DROPBEAR = "/usr/sbin/dropbear";
/** Dropbear reads only its own key format; the install's pinned key is OpenSSH's. */
const DROPBEARCONVERT = "/usr/bin/dropbearconvert";
/**
 * Debian's efibootmgr (package efibootmgr, libraries libefivar1 and libefiboot1), so `metal
 * reinstall` can set BootNext on a UEFI lab machine as on a NixOS host.
 */
const EFIBOOTMGR = "/usr/bin/efibootmgr";
/**
 * The serial console each architecture's QEMU machine has: the PC's COM1, and the PL011 UART
 * of QEMU's `virt` board (Linux Documentation/admin-guide/serial-console.rst: ttyAMA).
 */
const CONSOLE: Readonly<Record<HostArch, string>> = {
  x86_64: "console=ttyS0",
  aarch64: "console=ttyAMA0",
};

/** What a lab initramfs of one architecture is made of. */
export interface LabUserland {
  readonly arch: HostArch;
  readonly kernel: LabKernel;
  /** busybox-static for the architecture and a busybox that runs here to list its applets. */
  readonly busybox?: { readonly binary: string; readonly appletLister: string };
  /** dropbear and dropbearconvert with their libraries and loader. */
  readonly dropbear: readonly ImageFile[];
}

/** This host's dropbear and dropbearconvert and the libraries `ldd` names for them. */
async function hostDropbear(): Promise<ImageFile[]> {
  const files = new Set<string>([DROPBEAR, DROPBEARCONVERT]);
  for (const program of [DROPBEAR, DROPBEARCONVERT])
    for (const library of parseLddOutput(await runTool("ldd", [program]))) files.add(library);
  return [...files].map((file) => ({ path: file, source: file }));
}

/**
 * The installed system's UEFI tools: this host's efibootmgr with the libraries `ldd` names for
 * it beyond dropbear's. Only for x86_64, whose binaries run here; arm64 has none yet.
 */
async function efiTools(userland: LabUserland): Promise<ExtraFile[]> {
  if (userland.arch !== "x86_64") return [];
  const present = new Set(userland.dropbear.map((file) => file.path));
  const files = new Set<string>([EFIBOOTMGR]);
  for (const library of parseLddOutput(await runTool("ldd", [EFIBOOTMGR])))
    if (!present.has(library)) files.add(library);
  return Promise.all(
    [...files].map(async (file) => ({
      path: file,
      content: await readFile(file),
      mode: EXECUTABLE_MODE,
    })),
  );
}

/** Debian's kernel, busybox and dropbear for `arch`, fetched into the lab cache once. */
export async function labUserland(arch: HostArch): Promise<LabUserland> {
  if (arch === "x86_64")
    return { arch, kernel: await fetchKernel(), dropbear: await hostDropbear() };
  return {
    arch,
    kernel: await fetchKernel({ arch: "arm64" }),
    // The same Debian release's busybox, so the host's lists the same applets.
    busybox: { binary: await fetchBusyboxArm64(), appletLister: "/bin/busybox" },
    dropbear: await fetchDropbearArm64(),
  };
}

function busyboxSpec(userland: LabUserland) {
  return userland.busybox
    ? { busybox: userland.busybox.binary, appletLister: userland.busybox.appletLister }
    : {};
}

export interface InstallerDir {
  readonly dir: string;
  /** The stand-in installer's SSH host key, the one its agent reports. */
  readonly sshHostPublicKey: string;
}

async function readAgent(agentFile: string): Promise<string> {
  try {
    return await readFile(agentFile, "utf8");
  } catch {
    throw new LabSetupError(
      `the callback agent ${agentFile} is missing; it comes with the repository (nix/installer/metal-agent.sh): ` +
        "run metal lab from a full checkout",
    );
  }
}

/** Kernel modules in load order, as initPreamble wants their names. */
function moduleNames(kernel: LabKernel): string[] {
  return kernel.modules.map((module) => module.name);
}

export async function buildStandInInstaller(options: {
  readonly userland: LabUserland;
  readonly dir: string;
  readonly adminPublicKey: string;
  readonly agentFile?: string;
}): Promise<InstallerDir> {
  const { userland, dir } = options;
  const { kernel } = userland;
  await mkdir(dir, { recursive: true });
  const agent = await readAgent(options.agentFile ?? AGENT_SOURCE);
  const scratch = path.join(dir, "host-key");
  await rm(scratch, { force: true });
  await runTool("dropbearkey", ["-t", "ed25519", "-f", scratch]);
  const publicKey = /^ssh-\S+ \S+/m.exec(await runTool("dropbearkey", ["-y", "-f", scratch]))?.[0];
  if (!publicKey) throw new LabSetupError("dropbearkey printed no public key for the installer");
  const script =
    initPreamble({ modules: moduleNames(kernel), sshd: true }) +
    [
      "lab_start_sshd",
      'echo "metal-lab: installer up at $net_address, sshd listening"',
      `/bin/sh ${AGENT_PATH} installer`,
      'echo "metal-lab: agent ended with status $?"',
      // The install connects over SSH and reboots the machine; until then, stay up.
      "while true; do sleep 3600; done",
    ].join("\n") +
    "\n";
  await buildInitramfs(
    {
      script,
      modules: kernel.modules,
      ...busyboxSpec(userland),
      dropbear: {
        authorizedKeys: [options.adminPublicKey],
        hostKey: await readFile(scratch),
        programs: userland.dropbear,
      },
      files: [
        { path: AGENT_PATH, content: agent, mode: EXECUTABLE_MODE },
        { path: "/etc/ssh/ssh_host_ed25519_key.pub", content: `${publicKey} root@installer\n` },
      ],
    },
    path.join(dir, "initrd"),
  );
  await copyFile(kernel.vmlinuz, path.join(dir, "bzImage"));
  await writeFile(path.join(dir, "cmdline"), `${CONSOLE[userland.arch]} quiet\n`);
  return { dir, sshHostPublicKey: publicKey };
}

/** The installed system's own initrd (without a host's extra files, appended per install). */
export async function buildInstalledSystemInitrd(options: {
  readonly userland: LabUserland;
  readonly output: string;
  /** root's authorized key, as on an installed NixOS host. */
  readonly adminPublicKey: string;
  readonly agentFile?: string;
}): Promise<string> {
  const agent = await readAgent(options.agentFile ?? AGENT_SOURCE);
  const script =
    initPreamble({
      modules: moduleNames(options.userland.kernel),
      dhcp: false,
      link: true,
      sshd: true,
      efivars: true,
    }) +
    [
      'ip addr add "$cmdline_metal_address" dev "$net_interface"',
      'if [ -n "${cmdline_metal_gateway:-}" ]; then ip route add default via "$cmdline_metal_gateway"; fi',
      // The host's pinned key from the install's extra files replaces the build's throwaway key.
      `if dropbearconvert openssh dropbear /${HOST_KEY_TARGET} ${DROPBEAR_HOST_KEY_PATH}.new >/dev/null 2>&1; then mv ${DROPBEAR_HOST_KEY_PATH}.new ${DROPBEAR_HOST_KEY_PATH}; fi`,
      "lab_start_sshd",
      'echo "metal-lab: installed system ${cmdline_metal_host:-} up at $cmdline_metal_address"',
      `if /bin/sh ${AGENT_PATH} first-boot; then echo "metal-lab: first boot reported"; fi`,
      "while true; do sleep 3600; done",
    ].join("\n") +
    "\n";
  await mkdir(path.dirname(options.output), { recursive: true });
  await buildInitramfs(
    {
      script,
      modules: [...options.userland.kernel.modules, options.userland.kernel.efivarfs],
      ...busyboxSpec(options.userland),
      dropbear: { authorizedKeys: [options.adminPublicKey], programs: options.userland.dropbear },
      files: [
        { path: AGENT_PATH, content: agent, mode: EXECUTABLE_MODE },
        ...(await efiTools(options.userland)),
      ],
    },
    options.output,
  );
  return options.output;
}

/** The kernel command line of a host's installed system: where its static address comes from. */
export function installedCmdline(host: {
  name: string;
  arch: HostArch;
  address: string;
  prefixLength: number;
  gateway: string;
}): string {
  return [
    CONSOLE[host.arch],
    "quiet",
    `metal.host=${host.name}`,
    `metal.address=${host.address}/${host.prefixLength}`,
    `metal.gateway=${host.gateway}`,
  ].join(" ");
}
