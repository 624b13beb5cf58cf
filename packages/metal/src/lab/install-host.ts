/**
 * The virtual lab's install command (what nixos-anywhere is on real hardware), run by
 * `metal install` through the lab inventory's command template: builds the host's disk per the
 * inventory's partition layout (ESP + root + raw Ceph) as a small bootable image whose initrd is
 * the "installed system" plus the install's extra files (host key, callback.env), writes it over
 * SSH to the installer — pinned known_hosts, the admin key, StrictHostKeyChecking=yes — and
 * reboots the machine detached, so it boots its disk and calls back "first boot".
 */
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { execa } from "execa";
import { buildDiskImage, encodeCpio, type CpioEntry, type PartitionSpec } from "metal-lab";
import { hostSettings } from "../inventory/host-settings.js";
import { loadInventory } from "../inventory/load.js";
import type { HostArch } from "../inventory/types.js";
import { sizeBytes } from "../inventory/size.js";
import { sshOptions } from "../ssh-options.js";
import { LabSetupError } from "./errors.js";
import { installedCmdline } from "./images.js";
import { dataRuns, remoteWriterScript, sparseStream } from "./sparse-write.js";

const MIB = 1024 * 1024;
const SECTOR_BYTES = 512;
/** Reboot after the SSH session has closed, or the client waits on a dying connection. */
const DETACHED_REBOOT = 'setsid sh -c "sleep 0.5; reboot -f" </dev/null >/dev/null 2>&1 &';
const SSH_CONNECT_TIMEOUT_SECONDS = 20;

export interface LabInstallOptions {
  readonly inventoryPath: string;
  readonly host: string;
  /** The installer's address (from its callback). */
  readonly ip: string;
  readonly key: string;
  readonly knownHosts: string;
  readonly extraFiles: string;
  readonly workDir: string;
  /** Kernel and installed-system initrd built by `metal lab` for each architecture. */
  readonly images: (arch: HostArch) => { readonly kernel: string; readonly systemInitrd: string };
  readonly log: (line: string) => void;
}

/** The extra-files tree as cpio entries, modes kept (the host key stays 0600). */
async function treeEntries(root: string, relative = ""): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [];
  for (const name of (await readdir(path.join(root, relative))).sort()) {
    const inside = path.posix.join(relative, name);
    const info = await stat(path.join(root, inside));
    const mode = info.mode & 0o7777;
    if (info.isDirectory()) {
      entries.push({ path: `/${inside}`, type: "directory", mode });
      entries.push(...(await treeEntries(root, inside)));
    } else if (info.isFile()) {
      entries.push({
        path: `/${inside}`,
        type: "file",
        data: await readFile(path.join(root, inside)),
        mode,
      });
    }
  }
  return entries;
}

function mib(size: string): number {
  return Math.ceil(sizeBytes(size) / MIB);
}

export async function labInstallHost(options: LabInstallOptions): Promise<void> {
  const inventory = await loadInventory(options.inventoryPath);
  const host = inventory.hosts.find((candidate) => candidate.name === options.host);
  const machine = inventory.lab?.machines.find((candidate) => candidate.host === options.host);
  if (!host || !machine)
    throw new LabSetupError(
      `host "${options.host}" has no [[lab.machines]] entry in ${options.inventoryPath}; the lab installs only lab machines`,
    );
  const settings = hostSettings(inventory)[host.name]!;
  const esp = settings.partitions.find((partition) => partition.name === "ESP")!;
  const partitions: PartitionSpec[] = settings.partitions
    .filter((partition) => partition.name !== "ESP")
    .map((partition) => ({
      name: partition.partlabel,
      sizeMiB: partition.size === "100%" ? "rest" : mib(partition.size),
      type: "linux",
    }));

  const images = options.images(host.arch);
  const initrd = path.join(options.workDir, "installed-initrd.gz");
  const extra = gzipSync(encodeCpio(await treeEntries(options.extraFiles), 0));
  await writeFile(initrd, Buffer.concat([await readFile(images.systemInitrd), extra]));
  const image = path.join(options.workDir, "disk.img");
  options.log(
    `building ${host.name}'s disk: ${settings.partitions.map((p) => `${p.partlabel} ${p.size}`).join(", ")}`,
  );
  const built = await buildDiskImage(
    {
      kernel: images.kernel,
      initrd,
      cmdline: installedCmdline({ ...host, gateway: inventory.network.gateway }),
      diskSizeMiB: mib(machine.diskSize),
      espSizeMiB: mib(esp.size),
      partitions,
      identity: host.name,
      arch: host.arch === "aarch64" ? "arm64" : "amd64",
    },
    image,
  );
  try {
    // Data lives in the GPT and the ESP at the start and the backup GPT in the last block;
    // root and Ceph are left unformatted.
    const espPartition = built.partitions[0]!;
    const espEnd = (espPartition.startSector + espPartition.sectors) * SECTOR_BYTES;
    const totalBlocks = mib(machine.diskSize);
    const runs = await dataRuns(image, [
      { first: 0, end: Math.ceil(espEnd / MIB) },
      { first: totalBlocks - 1, end: totalBlocks },
    ]);
    const blocks = runs.reduce((sum, run) => sum + run.countBlocks, 0);
    options.log(
      `writing ${blocks} MiB of data in ${runs.length} runs to ${host.disk} on ${options.ip} over SSH`,
    );
    const ssh = (command: string) => [
      ...sshOptions({
        knownHostsFile: options.knownHosts,
        identityFile: options.key,
        port: undefined,
      }),
      "-o",
      `ConnectTimeout=${SSH_CONNECT_TIMEOUT_SECONDS}`,
      "-o",
      "LogLevel=ERROR",
      `root@${options.ip}`,
      command,
    ];
    await execa("ssh", ssh(remoteWriterScript(host.disk)), {
      input: sparseStream(image, runs),
      stdout: "inherit",
      stderr: "inherit",
    });
    options.log(`disk written; rebooting ${host.name} into its installed system`);
    await execa("ssh", ssh(DETACHED_REBOOT), { stdout: "inherit", stderr: "inherit" });
  } finally {
    await rm(image, { force: true });
    await rm(initrd, { force: true });
  }
}
