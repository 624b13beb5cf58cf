import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chooseAccelerator } from "../src/accel.js";
import { buildDiskImage } from "../src/disk-image.js";
import { initPreamble } from "../src/init-script.js";
import { buildInitramfs } from "../src/initramfs.js";
import { defaultCacheDir, fetchKernel } from "../src/kernel.js";
import { VirtualNetwork, type NetHost } from "../src/netns.js";
import { QemuMachine } from "../src/qemu.js";
import { WolGate } from "../src/wol-gate.js";
import { magicPacket, sendUdp } from "./support/send-wol.js";

const MAC = "52:54:00:77:20:01";
const OTHER_MAC = "52:54:00:77:20:99";
/** Long enough that a machine that was running would have printed SeaBIOS's banner. */
const HELD_OFF_OBSERVATION_MS = 4_000;
const BOOT_TIMEOUT_MS = 120_000;
const AWAKE = /lab-awake/;
/** The guest stays up this long after saying so, then powers itself off. */
const AWAKE_SECONDS = 3;

describe("Wake-on-LAN gate", () => {
  let work: string;
  let network: VirtualNetwork;
  let sender: NetHost;
  let machine: QemuMachine;
  let gate: WolGate;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "metal-lab-wol-"));
    const kernel = await fetchKernel();
    const initrd = await buildInitramfs(
      {
        script:
          initPreamble({ dhcp: false }) + `echo lab-awake\nsleep ${AWAKE_SECONDS}\npoweroff -f\n`,
      },
      join(work, "initrd.gz"),
    );
    const disk = await buildDiskImage(
      { kernel: kernel.vmlinuz, initrd: initrd.path, cmdline: "console=ttyS0", diskSizeMiB: 80 },
      join(work, "disk.img"),
    );
    network = await VirtualNetwork.create();
    sender = await network.addHost("sender", 10);
    machine = await QemuMachine.create({
      name: "sleeper",
      firmware: "bios",
      mac: MAC,
      workDir: join(work, "sleeper"),
      network: { namespace: network.lan, tap: await network.addTap("tapsleep") },
      disk: disk.path,
      accelerator: await chooseAccelerator({ kernel: kernel.vmlinuz, cacheDir: defaultCacheDir() }),
    });
    gate = await WolGate.start({ network, machines: [machine] });
  }, 300_000);

  afterAll(async () => {
    await gate?.stop();
    await machine?.stop();
    await network?.destroy();
    await rm(work, { recursive: true, force: true });
  });

  async function waitUntilOff(): Promise<void> {
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    while (machine.state !== "off" && Date.now() < deadline) await sleep(100);
    expect(machine.state).toBe("off");
  }

  it("keeps the machine off until a magic packet for its MAC arrives, then powers it on", async () => {
    const broadcast = `${network.subnet}.255`;
    await sendUdp(sender, broadcast, 9, magicPacket(OTHER_MAC));
    await sendUdp(sender, broadcast, 7, Buffer.from("not a magic packet"));
    await sleep(HELD_OFF_OBSERVATION_MS);
    expect(machine.state).toBe("off");
    expect(await machine.serialOutput()).toBe("");
    expect(gate.wakes).toEqual([]);
    expect(gate.ignored.map((packet) => packet.reason)).toEqual([
      expect.stringContaining(`for ${OTHER_MAC}, which is no machine of this lab`),
      expect.stringContaining("no Wake-on-LAN magic sequence"),
    ]);

    await sendUdp(sender, broadcast, 9, magicPacket(MAC));
    await machine.waitForSerial(AWAKE, BOOT_TIMEOUT_MS);
    expect(gate.wakes).toEqual([
      expect.objectContaining({
        machine: "sleeper",
        mac: MAC,
        port: 9,
        poweredOn: true,
        from: expect.stringMatching(new RegExp(`^${sender.address}:`)),
      }),
    ]);
  });

  it("treats a packet for a running machine as a no-op", async () => {
    expect(machine.state).toBe("on");
    await sendUdp(sender, "255.255.255.255", 7, magicPacket(MAC));
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    while (gate.wakes.length < 2 && Date.now() < deadline) await sleep(100);
    expect(gate.wakes[1]).toEqual(expect.objectContaining({ mac: MAC, port: 7, poweredOn: false }));
  });

  it("wakes the machine again after the guest powered itself off", async () => {
    await waitUntilOff();
    const afterPoweroff = await machine.serialOffset();
    await sendUdp(sender, `${network.subnet}.255`, 9, magicPacket(MAC));
    await machine.waitForSerial(AWAKE, BOOT_TIMEOUT_MS, afterPoweroff);
    expect(gate.wakes.at(-1)).toEqual(expect.objectContaining({ mac: MAC, poweredOn: true }));
  });
});
