/**
 * `metal lab up` and `metal lab down`: the virtual lab of DESIGN §6 around the real `metal
 * install`. Up builds the stand-in installer and the installed-system initrd, writes the lab's
 * inventory (examples/lab.toml plus the lab's install command), creates the lab (network
 * namespaces, dnsmasq home router, QEMU machines held off until Wake-on-LAN), adds a namespace
 * for metal at .2 on the lab bridge, and runs `metal install` there as a child process. Down
 * removes every namespace with the lab's prefix, stopping whatever runs inside.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { buildGrubNetImageArm64, Lab, removeNamespaces, type NicBoot } from "metal-lab";
import { DEBIAN_FIRST_STAGE_FILES, DEBIAN_IPXE_DIR, GRUB_NET_IMAGE_ARM64 } from "netboot";
import { HOST_ARCHES } from "../boot/installer-dirs.js";
import { parse, stringify, type TomlTable } from "smol-toml";
import { loadInventory } from "../inventory/load.js";
import { sizeBytes } from "../inventory/size.js";
import type { HostArch, Inventory, LabMachine } from "../inventory/types.js";
import { privatePaths } from "../secrets/layout.js";
import { DEFAULT_STATE_DIR_NAME } from "../state/location.js";
import { sharedFile } from "../package-files.js";
import { LabSetupError } from "./errors.js";
import { buildInstalledSystemInitrd, buildStandInInstaller, labUserland } from "./images.js";
import { ensureLabBmcs, type LabBmc } from "./lab-bmc.js";
import { ensureLabKeys, labSecretsDir } from "./lab-keys.js";
import { isProcessAlive } from "../process-liveness.js";

export const DEFAULT_LAB_INVENTORY = sharedFile("examples/lab.toml");
export const DEFAULT_LAB_DIR = ".lab";
export const DEFAULT_NAMESPACE_PREFIX = "mlab";
const CLI = fileURLToPath(new URL("../cli.js", import.meta.url));
/** metal's address on the lab bridge: .1 is the home router. */
const METAL_HOST_OCTET = 2;
const MIB = 1024 * 1024;
/** Machines wake in seconds; a lost packet is re-sent soon. */
const LAB_WAKE_INTERVAL_SECONDS = 5;
const LAB_FIRST_BOOT_TIMEOUT_SECONDS = 600;
/** Lab machines PXE-boot in seconds under TCG: a BMC machine silent for this long is stuck. */
const LAB_DHCP_TIMEOUT_SECONDS = 45;
const LAB_CALLBACK_TIMEOUT_SECONDS = 240;
/** Exit code when metal install died of a signal (it was killed, not asked to stop). */
const EXIT_KILLED = 1;

/** Where `metal lab` keeps its files; `lab.json` tells `metal lab down` what to remove. */
export function labPaths(workDir: string) {
  return {
    inventory: path.join(workDir, "cluster.toml"),
    /** The x86_64 installer, what a bare `--installer DIR` names; labImages() has each arch's. */
    installer: labImages(workDir, "x86_64").installer,
    /** First stages for a lab with arm64 machines: Debian's iPXE and GRUB's network image. */
    firstStages: path.join(workDir, "first-stage"),
    secrets: labSecretsDir(workDir),
    machines: path.join(workDir, "machines"),
    state: path.join(workDir, DEFAULT_STATE_DIR_NAME),
    record: path.join(workDir, "lab.json"),
  };
}

/** One architecture's stand-in installer dir, and the installed-system kernel and initrd. */
export function labImages(workDir: string, arch: HostArch) {
  // x86_64 keeps the names it had before there were two architectures.
  const suffix = arch === "x86_64" ? "" : `-${arch}`;
  const installer = path.join(workDir, `installer${suffix}`);
  return {
    installer,
    kernel: path.join(installer, "bzImage"),
    systemInitrd: path.join(workDir, "system", `initrd${suffix}.gz`),
  };
}

export interface LabUpOptions {
  readonly inventoryPath: string;
  readonly workDir: string;
  readonly namespacePrefix: string;
  /** Tear the lab down once `metal install` has finished (tests, CI). */
  readonly downAfter: boolean;
  readonly json: boolean;
  readonly agentFile?: string;
  readonly out: (line: string) => void;
}

/** The lab inventory with the lab's own install command (this CLI's `lab install-host`). */
export async function writeLabInventory(source: string, workDir: string): Promise<string> {
  const paths = labPaths(workDir);
  const document = parse(await readFile(source, "utf8"));
  const install = (document.install ?? {}) as TomlTable;
  install.command = [
    process.execPath,
    CLI,
    "lab",
    "install-host",
    "--inventory",
    paths.inventory,
    "--lab-dir",
    workDir,
    "--host",
    "{host}",
    "--ip",
    "{ip}",
    "--key",
    "{key}",
    "--known-hosts",
    "{known_hosts}",
    "--extra-files",
    "{extra_files}",
    "--work-dir",
    "{work_dir}",
  ];
  document.install = install;
  await writeFile(
    paths.inventory,
    `# Written by metal lab from ${source}: the same inventory with the lab's install command.\n${stringify(document)}\n`,
  );
  return paths.inventory;
}

function labMachines(inventory: Inventory, bmcs: readonly LabBmc[]) {
  const machines = inventory.lab?.machines ?? [];
  if (machines.length === 0)
    throw new LabSetupError(
      `${inventory.source} has no [[lab.machines]]; metal lab needs a lab inventory such as examples/lab.toml`,
    );
  return machines.map((machine) => {
    const host = inventory.hosts.find((candidate) => candidate.name === machine.host)!;
    const bmc = bmcs.find((candidate) => candidate.host === machine.host);
    return {
      ...(bmc
        ? { bmc: { address: bmc.address, username: bmc.username, password: bmc.password } }
        : {}),
      name: machine.host,
      mac: host.mac,
      // An aarch64 host's machine is AAVMF on qemu-system-aarch64 (the inventory allows only uefi).
      firmware: host.arch === "aarch64" ? ("uefi-arm64" as const) : machine.firmware,
      nicBoot: nicBootFor(machine),
      diskSizeMiB: Math.ceil(sizeBytes(machine.diskSize) / MIB),
      memoryMiB: Math.ceil(sizeBytes(machine.memory) / MIB),
    };
  });
}

/**
 * UEFI machines PXE-boot with OVMF's own stack, as real UEFI hardware does (TFTP ipxe.efi), or
 * HTTP-boot with it (OVMF's PXE off, docs/http-boot.md); BIOS machines use QEMU's iPXE ROM.
 */
function nicBootFor(machine: LabMachine): NicBoot {
  if (machine.firmware === "bios") return "ipxe";
  return machine.boot === "http" ? "http" : "native";
}

/**
 * The first-stage directory of a lab with arm64 machines: Debian's iPXE files (links followed,
 * so Debian's link to /boot/ipxe.efi becomes a file) and GRUB's arm64 network image, which has
 * metal's address built in because GRUB never reads the proxy offer (ADR 0190).
 */
async function buildFirstStages(dir: string, serverAddress: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const name of DEBIAN_FIRST_STAGE_FILES)
    if (existsSync(path.join(DEBIAN_IPXE_DIR, name)))
      await copyFile(path.join(DEBIAN_IPXE_DIR, name), path.join(dir, name));
  await buildGrubNetImageArm64({ serverAddress, output: path.join(dir, GRUB_NET_IMAGE_ARM64) });
  return dir;
}

/** The architectures of the lab's machines: one stand-in installer is built for each. */
function labArches(inventory: Inventory): HostArch[] {
  const arches = new Set(
    (inventory.lab?.machines ?? []).map(
      (machine) => inventory.hosts.find((host) => host.name === machine.host)!.arch,
    ),
  );
  return HOST_ARCHES.filter((arch) => arches.has(arch));
}

/** Builds and runs the lab; resolves to `metal install`'s exit code. */
export async function labUp(options: LabUpOptions): Promise<number> {
  if (process.getuid?.() !== 0)
    throw new LabSetupError(
      "metal lab needs root (it creates network namespaces, a bridge and tap devices): run it with sudo",
    );
  const workDir = path.resolve(options.workDir);
  const paths = labPaths(workDir);
  const source = await loadInventory(options.inventoryPath);
  await mkdir(workDir, { recursive: true });
  await ensureLabKeys(source, paths.secrets);
  const machines = labMachines(source, await ensureLabBmcs(source, paths.secrets));
  // New machines have blank disks: the state of an earlier lab would call them ready.
  await rm(paths.state, { recursive: true, force: true });
  await rm(paths.machines, { recursive: true, force: true });

  const arches = labArches(source);
  options.out(
    `metal lab: fetching Debian's kernel and building the stand-in installer (${arches.join(", ")})`,
  );
  const adminPublicKey = await readFile(privatePaths(paths.secrets).adminSshPublicKey, "utf8");
  const agent = options.agentFile ? { agentFile: options.agentFile } : {};
  for (const arch of arches) {
    const userland = await labUserland(arch);
    const images = labImages(workDir, arch);
    await buildStandInInstaller({ userland, dir: images.installer, adminPublicKey, ...agent });
    await buildInstalledSystemInitrd({
      userland,
      output: images.systemInitrd,
      adminPublicKey,
      ...agent,
    });
  }
  await writeLabInventory(source.source, workDir);

  options.out(
    `metal lab: starting ${machines.length} machines (${machines.map((m) => `${m.name} ${m.firmware}${m.bmc ? ` with a BMC at ${m.bmc.address}` : ""}`).join(", ")}), powered off until Wake-on-LAN or their BMC powers them on`,
  );
  const lab = await Lab.create({
    machines,
    workDir: paths.machines,
    namespacePrefix: options.namespacePrefix,
  });
  try {
    const metal = await lab.addHost("metal", METAL_HOST_OCTET);
    await writeFile(
      paths.record,
      `${JSON.stringify({ pid: process.pid, prefix: options.namespacePrefix, metalNamespace: metal.namespace, lanNamespace: lab.network.lan }, null, 2)}\n`,
    );
    options.out(
      `metal lab: running metal install in namespace ${metal.namespace} (${metal.address}); serial logs in ${paths.machines}/<host>/serial.log`,
    );
    // Without arm64 machines metal install serves Debian's iPXE directory, as on real hardware.
    const firstStages = arches.includes("aarch64")
      ? ["--ipxe-dir", await buildFirstStages(paths.firstStages, metal.address)]
      : [];
    const [file, args] = metal.argv(process.execPath, [
      CLI,
      "install",
      "--inventory",
      paths.inventory,
      "--installer",
      arches.map((arch) => `${arch}=${labImages(workDir, arch).installer}`).join(","),
      "--secrets-dir",
      paths.secrets,
      "--wake-interval",
      String(LAB_WAKE_INTERVAL_SECONDS),
      "--first-boot-timeout",
      String(LAB_FIRST_BOOT_TIMEOUT_SECONDS),
      "--dhcp-timeout",
      String(LAB_DHCP_TIMEOUT_SECONDS),
      "--callback-timeout",
      String(LAB_CALLBACK_TIMEOUT_SECONDS),
      ...firstStages,
      ...(options.json ? ["--json"] : []),
    ]);
    const install = execa(file, args, { stdio: "inherit", reject: false });
    let stopRequested = false;
    let wake: () => void = () => undefined;
    // `on`, not `once`: execa's signal-exit re-raises a signal that no other listener handles.
    // Ctrl-C reaches the child through the terminal's process group; SIGTERM is passed on.
    const onSignal = (signal: NodeJS.Signals) => {
      stopRequested = true;
      if (signal === "SIGTERM") install.kill("SIGTERM");
      wake();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      const result = await install;
      const code = result.exitCode ?? EXIT_KILLED;
      options.out(
        result.signal
          ? `metal lab: metal install was killed by ${result.signal}`
          : `metal lab: metal install exited with code ${code}`,
      );
      if (options.downAfter || stopRequested) return code;
      options.out(
        "metal lab: the lab keeps running so you can look around; Ctrl-C here or `metal lab down` removes it",
      );
      await new Promise<void>((resolve) => (wake = resolve));
      return code;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  } finally {
    await lab.destroy();
    await rm(paths.record, { force: true });
    options.out("metal lab: removed the lab's machines, router and namespaces");
  }
}

/** Removes every namespace of the lab prefix (and what runs inside); optionally the work dir. */
/** How long `lab down` lets a running `lab up` take its own lab down before forcing it. */
const LAB_UP_EXIT_WAIT_MS = 60_000;
const POLL_MS = 200;

export async function labDown(options: {
  readonly workDir: string;
  readonly namespacePrefix: string;
  readonly purge: boolean;
  readonly out: (line: string) => void;
}): Promise<void> {
  const paths = labPaths(path.resolve(options.workDir));
  // The running `metal lab up` owns the lab: ask it to take its lab down itself, then remove
  // whatever is left (a lab up that was killed, or one that did not finish in time).
  if (existsSync(paths.record)) {
    const record = JSON.parse(await readFile(paths.record, "utf8")) as { pid?: number };
    if (record.pid && record.pid !== process.pid && isProcessAlive(record.pid)) {
      process.kill(record.pid, "SIGTERM");
      options.out(`metal lab down: asked metal lab (pid ${record.pid}) to finish`);
      const deadline = Date.now() + LAB_UP_EXIT_WAIT_MS;
      while (isProcessAlive(record.pid) && Date.now() < deadline) await sleep(POLL_MS);
    }
    await rm(paths.record, { force: true });
  }
  const removed = await removeNamespaces(options.namespacePrefix);
  options.out(
    removed.length > 0
      ? `metal lab down: removed namespaces ${removed.join(", ")}`
      : `metal lab down: no namespaces named ${options.namespacePrefix}… are left`,
  );
  if (options.purge) {
    await rm(path.resolve(options.workDir), { recursive: true, force: true });
    options.out(`metal lab down: removed ${path.resolve(options.workDir)}`);
  }
}
