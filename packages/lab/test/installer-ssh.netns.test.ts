import { execa } from "execa";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chooseAccelerator } from "../src/accel.js";
import { buildDiskImage } from "../src/disk-image.js";
import { initPreamble } from "../src/init-script.js";
import { buildInitramfs } from "../src/initramfs.js";
import { defaultCacheDir, fetchKernel, type LabKernel } from "../src/kernel.js";
import { VirtualNetwork, type NetHost } from "../src/netns.js";
import { QemuMachine } from "../src/qemu.js";
import { HomeRouter } from "../src/router.js";

const READY_TIMEOUT_MS = 240_000;
const DISK_MIB = 96;
const SECTOR_BYTES = 512;

describe("dropbear in a busybox initramfs", () => {
  let work: string;
  let kernel: LabKernel;
  let network: VirtualNetwork;
  let router: HomeRouter;
  let client: NetHost;
  let machine: QemuMachine;
  let diskPath: string;
  let hostPublicKey: string;
  let installedImage: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "metal-lab-ssh-"));
    kernel = await fetchKernel();
    await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, "id")]);
    const initrd = await buildInitramfs(
      {
        script:
          initPreamble({ modules: kernel.modules.map((module) => module.name), sshd: true }) +
          "lab_start_sshd\n" +
          'echo "lab-ssh-ready address=$net_address"\n' +
          "while true; do sleep 3600; done\n",
        modules: kernel.modules,
        dropbear: { authorizedKeys: [await readFile(join(work, "id.pub"), "utf8")] },
      },
      join(work, "initrd.gz"),
    );
    hostPublicKey = initrd.sshHostPublicKey ?? "";
    const image = await buildDiskImage(
      {
        kernel: kernel.vmlinuz,
        initrd: initrd.path,
        cmdline: "console=ttyS0",
        diskSizeMiB: DISK_MIB,
        partitions: [{ name: "data", sizeMiB: "rest", type: "linux" }],
      },
      join(work, "disk.img"),
    );
    diskPath = image.path;
    const firstBootInitrd = await buildInitramfs(
      {
        script:
          initPreamble({ modules: kernel.modules.map((module) => module.name), dhcp: false }) +
          'echo "lab-first-boot role=$cmdline_lab_role"\n',
        modules: kernel.modules,
      },
      join(work, "first-boot.initrd.gz"),
    );
    installedImage = (
      await buildDiskImage(
        {
          kernel: kernel.vmlinuz,
          initrd: firstBootInitrd.path,
          cmdline: "console=ttyS0 lab_role=installed",
          diskSizeMiB: DISK_MIB,
          partitions: [
            { name: "root", sizeMiB: 8, type: "linux" },
            { name: "ceph", sizeMiB: "rest", type: "4FBD7E29-9D25-41B8-AFD0-062C0CEFF05D" },
          ],
          identity: "installed",
        },
        join(work, "installed.img"),
      )
    ).path;
    network = await VirtualNetwork.create();
    router = await HomeRouter.start({ network, workDir: join(work, "router") });
    client = await network.addHost("client", 2);
    machine = await QemuMachine.create({
      name: "installer",
      firmware: "bios",
      mac: "52:54:00:77:40:01",
      workDir: join(work, "installer"),
      network: { namespace: network.lan, tap: await network.addTap("tapssh") },
      disk: diskPath,
      accelerator: await chooseAccelerator({ kernel: kernel.vmlinuz, cacheDir: defaultCacheDir() }),
    });
  }, 300_000);

  afterAll(async () => {
    await machine?.stop();
    await router?.stop();
    await network?.destroy();
    await rm(work, { recursive: true, force: true });
  });

  it(
    "accepts the authorized key with the pinned host key, writes the disk over SSH and reboots into it",
    async () => {
      await machine.powerOn();
      const ready = await machine.waitForSerial(/lab-ssh-ready address=(\S+)/, READY_TIMEOUT_MS);
      const address = ready[1]!;
      const knownHosts = join(work, "known_hosts");
      await writeFile(knownHosts, `${address} ${hostPublicKey}\n`);
      const ssh = (command: string, input?: string | Uint8Array) =>
        client.run(
          "ssh",
          [
            "-i",
            join(work, "id"),
            "-o",
            `UserKnownHostsFile=${knownHosts}`,
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            `root@${address}`,
            command,
          ],
          input === undefined ? {} : { input },
        );

      const facts = await ssh("cat /sys/block/vda/size; uname -r");
      expect(String(facts.stdout).split("\n")).toEqual([
        String((DISK_MIB * 1024 * 1024) / SECTOR_BYTES),
        `${kernel.version}-amd64`,
      ]);

      // The lab's install: stream the installed system onto the disk, then reboot detached
      // (or the SSH client waits for a session that never ends) into the disk.
      const image = gzipSync(await readFile(installedImage));
      await ssh("gunzip | dd of=/dev/vda bs=1M conv=fsync 2>/dev/null", image);
      const beforeReboot = await machine.serialOffset();
      await ssh('setsid sh -c "sleep 0.5; reboot -f" </dev/null >/dev/null 2>&1 &');
      await machine.waitForSerial(/lab-first-boot role=installed/, READY_TIMEOUT_MS, beforeReboot);
      const written = await readFile(diskPath);
      expect(written.equals(await readFile(installedImage))).toBe(true);
    },
    READY_TIMEOUT_MS * 2,
  );
});
