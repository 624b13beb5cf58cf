import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chooseAccelerator, type Accelerator } from "../src/accel.js";
import { buildDiskImage } from "../src/disk-image.js";
import { initPreamble } from "../src/init-script.js";
import { buildInitramfs } from "../src/initramfs.js";
import { defaultCacheDir, fetchKernel, type LabKernel } from "../src/kernel.js";
import { VirtualNetwork } from "../src/netns.js";
import { QemuMachine, type Firmware } from "../src/qemu.js";
import { HomeRouter } from "../src/router.js";
import { ReportListener } from "../src/report-listener.js";

const REPORT_PORT = 8080;
const BOOT_TIMEOUT_MS = 240_000;

describe("a disk image built by buildDiskImage boots on both firmwares", () => {
  let work: string;
  let kernel: LabKernel;
  let accelerator: Accelerator;
  let network: VirtualNetwork;
  let router: HomeRouter;
  let listener: ReportListener;
  const machines: QemuMachine[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "metal-lab-disk-boot-"));
    kernel = await fetchKernel();
    accelerator = await chooseAccelerator({ kernel: kernel.vmlinuz, cacheDir: defaultCacheDir() });
    network = await VirtualNetwork.create();
    router = await HomeRouter.start({ network, workDir: join(work, "router") });
    listener = await ReportListener.start(await network.addHost("reporter", 2), REPORT_PORT);
  }, 300_000);

  afterAll(async () => {
    await Promise.all(machines.map((machine) => machine.stop()));
    await listener?.stop();
    await router?.stop();
    await network?.destroy();
    await rm(work, { recursive: true, force: true });
  });

  async function startMachine(firmware: Firmware, mac: string): Promise<QemuMachine> {
    const name = `disk-${firmware}`;
    const initrd = await buildInitramfs(
      {
        script:
          initPreamble({ modules: kernel.modules.map((module) => module.name) }) +
          `wget -q -O /dev/null "${listener.url}/booted?machine=$cmdline_lab_machine&address=$net_address"\n` +
          "poweroff -f\n",
        modules: kernel.modules,
      },
      join(work, `${name}.initrd.gz`),
    );
    const image = await buildDiskImage(
      {
        kernel: kernel.vmlinuz,
        initrd: initrd.path,
        cmdline: `console=ttyS0 lab_machine=${name}`,
        diskSizeMiB: 128,
        partitions: [{ name: "root", sizeMiB: "rest", type: "linux" }],
        identity: name,
      },
      join(work, `${name}.img`),
    );
    const machine = await QemuMachine.create({
      name,
      firmware,
      mac,
      workDir: join(work, name),
      network: { namespace: network.lan, tap: await network.addTap(`tap${firmware}`) },
      disk: image.path,
      noReboot: true,
      accelerator,
    });
    machines.push(machine);
    return machine;
  }

  it(
    "UEFI and BIOS machines boot the image, get an address from the router, report and power off",
    async () => {
      const uefi = await startMachine("uefi", "52:54:00:77:10:01");
      const bios = await startMachine("bios", "52:54:00:77:10:02");
      expect([uefi.state, bios.state]).toEqual(["off", "off"]);
      await Promise.all([uefi.powerOn(), bios.powerOn()]);

      const leases = new Map<string, string>();
      for (const machine of [uefi, bios]) {
        const report = await listener.waitFor(
          new RegExp(`machine=${machine.name}&`),
          BOOT_TIMEOUT_MS,
        );
        const address = new URL(report.url, listener.url).searchParams.get("address") ?? "";
        expect(address).toMatch(new RegExp(`^${network.subnet.replaceAll(".", "\\.")}\\.1\\d\\d$`));
        leases.set(machine.spec.mac, address);
        await machine.waitForExit();
      }
      const routerLeases = await router.leases();
      for (const [mac, address] of leases) expect(routerLeases).toContainEqual({ mac, address });
      await expect(uefi.serialOutput()).resolves.toContain("lab-init: interface=eth0");
    },
    BOOT_TIMEOUT_MS * 2,
  );
});
