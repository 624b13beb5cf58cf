import { execa } from "execa";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../src/lab.js";
import type { NetHost } from "../src/netns.js";
import { magicPacket, sendUdp } from "./support/send-wol.js";

const PXE_TIMEOUT_MS = 150_000;
/** iPXE's ROM prints its banner once SeaBIOS has given up on the blank disk. */
const IPXE_BANNER = /iPXE \(http:\/\/ipxe\.org\)/;
/** OVMF's own PXE (no NIC ROM) announces itself after the blank disk. */
const OVMF_PXE = />>Start PXE over IPv4/;

describe("Lab.create", () => {
  let work: string;
  let lab: Lab;
  let server: NetHost;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "metal-lab-lab-"));
    lab = await Lab.create({
      workDir: work,
      machines: [
        { name: "uefi1", mac: "52:54:00:77:30:01", firmware: "uefi", nicBoot: "native" },
        { name: "bios1", mac: "52:54:00:77:30:02", firmware: "bios", diskSizeMiB: 64 },
      ],
    });
    server = await lab.addHost("server", 2);
  }, 300_000);

  afterAll(async () => {
    await lab?.destroy();
    await rm(work, { recursive: true, force: true });
  });

  it("holds machines off, wakes each by its MAC, and blank disks fall through to network boot", async () => {
    expect(lab.machines.map((machine) => machine.state)).toEqual(["off", "off"]);
    for (const machine of lab.machines)
      await sendUdp(server, `${lab.network.subnet}.255`, 9, magicPacket(machine.mac));
    await Promise.all([
      lab.machine("uefi1").waitForSerial(OVMF_PXE, PXE_TIMEOUT_MS),
      lab.machine("bios1").waitForSerial(IPXE_BANNER, PXE_TIMEOUT_MS),
    ]);
    expect(lab.gate?.wakes.map(({ machine, mac }) => [machine, mac])).toEqual([
      ["uefi1", "52:54:00:77:30:01"],
      ["bios1", "52:54:00:77:30:02"],
    ]);
  });

  it("removes its namespaces on destroy", async () => {
    const prefix = lab.network.id;
    await lab.destroy();
    const { stdout } = await execa("ip", ["netns", "list"]);
    expect(stdout).not.toContain(prefix);
  });
});
