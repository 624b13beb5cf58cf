import { describe, expect, it } from "vitest";
import { confirmReinstall } from "../../src/commands/reinstall.js";
import type { Host } from "../../src/inventory/types.js";
import type { PowerDriver, PowerOperation } from "../../src/power/driver.js";
import {
  bootFromNetworkOnce,
  bootNextCommand,
  networkBootEntry,
  wipeBootSectorCommand,
} from "../../src/power/network-boot.js";

const HOST: Host = {
  name: "node1",
  mac: "52:54:00:77:00:01",
  address: "10.77.0.11",
  prefixLength: 24,
  role: "server",
  init: true,
  disk: "/dev/disk/by-id/it's-a-disk",
  arch: "x86_64",
  firstStage: undefined,
  rootSize: "1G",
  interface: undefined,
};

/** What OVMF's boot manager shows through efibootmgr on a lab UEFI machine with a disk. */
const OVMF_LISTING = `BootCurrent: 0001
Timeout: 0 seconds
BootOrder: 0001,0002,0003,0000
Boot0000* UiApp
Boot0001* UEFI Misc Device
Boot0002* UEFI PXEv6 (MAC:525400770001)
Boot0003* UEFI PXEv4 (MAC:525400770001)
Boot0004* UEFI HTTPv4 (MAC:525400770001)
Boot0005* EFI Internal Shell
`;

function driver(supports: PowerOperation[], calls: string[]): PowerDriver {
  const record = (name: string) => async (argument?: unknown) =>
    void calls.push(argument === undefined ? name : `${name} ${String(argument)}`);
  return {
    name: "fake",
    supports: new Set(supports),
    powerOnStep: "on",
    on: record("on"),
    off: record("off"),
    cycle: record("cycle"),
    status: async () => "on",
    bootFromNetworkOnce: record("bootFromNetworkOnce"),
  };
}

describe("network boot once", () => {
  it("picks the IPv4 PXE entry naming the host's MAC, else its IPv4 HTTP boot entry, never IPv6", () => {
    expect(networkBootEntry(OVMF_LISTING, HOST.mac)).toBe("0003");
    expect(
      networkBootEntry("Boot0007* IBA GE Slot 0100 v1585 PXE\nBoot0008* Network Card\n", HOST.mac),
    ).toBe("0007");
    expect(
      networkBootEntry("Boot0000* debian\nBoot0001* UEFI PXEv6 (MAC:525400770001)\n", HOST.mac),
    ).toBeUndefined();
    expect(networkBootEntry("garbage\x00\nBoot12* PXE\n", HOST.mac)).toBeUndefined();
    // OVMF with its PXE switched off (the lab's "http" NIC boot): HTTP boot is what is left.
    const httpOnly =
      "Boot0000* UiApp\nBoot0001* UEFI HTTPv6 (MAC:525400770001)\nBoot0002* UEFI HTTPv4 (MAC:525400770001)\n";
    expect(networkBootEntry(httpOnly, HOST.mac)).toBe("0002");
    // The host's own NIC first, whatever its kind; another NIC's PXE before nothing.
    expect(
      networkBootEntry(
        "Boot0001* UEFI PXEv4 (MAC:525400770099)\nBoot0002* UEFI HTTPv4 (MAC:525400770001)\n",
        HOST.mac,
      ),
    ).toBe("0002");
  });

  it("builds remote commands that quote the disk path and refuse a malformed entry", () => {
    expect(bootNextCommand("0003")).toMatch(
      /^efibootmgr --bootnext 0003 >\/dev\/null && setsid sh -c/,
    );
    expect(() => bootNextCommand("3; rm -rf /")).toThrow(/not a boot entry number/);
    expect(wipeBootSectorCommand(HOST.disk)).toMatch(
      /^dd if=\/dev\/zero of='\/dev\/disk\/by-id\/it'\\''s-a-disk' bs=512 count=1 conv=fsync/,
    );
  });

  it("uses the BMC when the driver can: one-time PXE flag for the firmware, then a power cycle", async () => {
    const calls: string[] = [];
    const how = await bootFromNetworkOnce({
      host: HOST,
      driver: driver(["on", "off", "cycle", "status", "bootFromNetworkOnce"], calls),
      firmware: "uefi",
      ssh: () => Promise.reject(new Error("no SSH with a BMC")),
    });
    expect(calls).toEqual(["bootFromNetworkOnce uefi", "cycle"]);
    expect(how).toMatch(/through the BMC/);
  });

  it("goes in over SSH without a BMC: BootNext on UEFI, the boot sector on BIOS, nothing when the firmware is unknown", async () => {
    const remote: string[] = [];
    const ssh = async (_host: Host, command: string) => {
      remote.push(command);
      return command === "efibootmgr" ? OVMF_LISTING : "";
    };
    const wol = driver(["on"], []);
    await bootFromNetworkOnce({ host: HOST, driver: wol, firmware: "uefi", ssh });
    expect(remote).toEqual(["efibootmgr", bootNextCommand("0003")]);
    remote.length = 0;
    await bootFromNetworkOnce({ host: HOST, driver: wol, firmware: "bios", ssh });
    expect(remote).toEqual([wipeBootSectorCommand(HOST.disk)]);
    remote.length = 0;
    await expect(
      bootFromNetworkOnce({ host: HOST, driver: wol, firmware: undefined, ssh }),
    ).rejects.toThrow(/does not know whether it boots UEFI or BIOS/);
    expect(remote).toEqual([]);
    await expect(
      bootFromNetworkOnce({
        host: HOST,
        driver: wol,
        firmware: "uefi",
        ssh: async () => "Boot0000* debian\n",
      }),
    ).rejects.toThrow(/no IPv4 network boot entry/);
  });
});

describe("metal reinstall confirmation", () => {
  it("goes on with --yes or the host's name typed back, and refuses otherwise", async () => {
    const never = () => Promise.reject(new Error("asked"));
    expect(await confirmReinstall(["node1"], true, never)).toEqual({ ok: true });
    expect(await confirmReinstall(["node1"], false, async () => " node1\n")).toEqual({ ok: true });
    expect(await confirmReinstall(["node1"], false, async () => "yes")).toEqual({
      ok: false,
      reason: 'not confirmed (typed "yes", not "node1"); nothing was changed',
    });
    expect(await confirmReinstall(["node1"], false, async () => undefined)).toEqual({
      ok: false,
      reason: "refusing to reinstall node1 without confirmation: no terminal to ask on; pass --yes",
    });
  });

  const answering = (answer: string | undefined) => async () => answer;

  it("goes on when every host's name is typed back, in order, however spaced", async () => {
    expect(
      await confirmReinstall(["node1", "node2"], false, answering("  node1   node2 ")),
    ).toEqual({
      ok: true,
    });
    expect(await confirmReinstall(["node1"], true, answering(undefined))).toEqual({ ok: true });
  });

  it("stops on a partial or reordered answer, and without a terminal", async () => {
    for (const typed of ["node1", "node2 node1", "yes", ""]) {
      const decision = await confirmReinstall(["node1", "node2"], false, answering(typed));
      expect(decision).toMatchObject({ ok: false });
    }
    expect(await confirmReinstall(["node1", "node2"], false, answering(undefined))).toEqual({
      ok: false,
      reason:
        "refusing to reinstall node1, node2 without confirmation: no terminal to ask on; pass --yes",
    });
  });
});
