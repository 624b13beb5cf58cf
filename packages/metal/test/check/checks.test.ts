import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import {
  formatFindings,
  installerFindings,
  interfaceFindings,
  privilegeFindings,
} from "../../src/check/checks.js";
import { probePort } from "../../src/check/ports.js";
import { canBindLowPorts, hasNetBindService } from "../../src/check/privileges.js";
import { loadInventory } from "../../src/inventory/load.js";
import { fixture, LAB_INVENTORY } from "../helpers.js";

const address = (addr: string) => ({
  address: addr,
  netmask: "255.255.255.0",
  family: "IPv4" as const,
  mac: "52:54:00:00:00:01",
  internal: false,
  cidr: `${addr}/24`,
});

describe("metal check findings", () => {
  it("accepts the inventory's interface when it has an address in the subnet", async () => {
    const inventory = await loadInventory(LAB_INVENTORY);
    expect(interfaceFindings(inventory, { eth0: [address("10.77.0.2")] })).toEqual([
      { ok: true, message: "interface eth0: 10.77.0.2 in 10.77.0.0/24" },
    ]);
  });

  it("names a missing interface and lists the ones that exist", async () => {
    const inventory = await loadInventory(LAB_INVENTORY);
    const [finding] = interfaceFindings(inventory, { lo: [], enp3s0: [address("192.168.1.5")] });
    expect(finding).toEqual({
      ok: false,
      message: "interface eth0 (network.interface) does not exist on this machine",
      fix: "set network.interface to the NIC on the nodes' LAN; this machine has lo, enp3s0",
    });
  });

  it("flags an interface without an address in the subnet", async () => {
    const inventory = await loadInventory(LAB_INVENTORY);
    const [finding] = interfaceFindings(inventory, { eth0: [address("192.168.1.5")] });
    expect(finding?.ok).toBe(false);
    expect(finding?.message).toBe(
      "interface eth0 has no address in 10.77.0.0/24 (it has 192.168.1.5)",
    );
  });

  it("reads CAP_NET_BIND_SERVICE from the effective capability set", () => {
    expect(hasNetBindService("Name:\tnode\nCapEff:\t0000000000000400\n")).toBe(true);
    expect(hasNetBindService("Name:\tnode\nCapEff:\t0000000000000000\n")).toBe(false);
    expect(canBindLowPorts({ root: false, netBindService: false, unprivilegedPortStart: 0 })).toBe(
      true,
    );
    expect(
      canBindLowPorts({ root: false, netBindService: false, unprivilegedPortStart: 1024 }),
    ).toBe(false);
  });

  it("tells an unprivileged user how to get the right to bind ports 67 and 69", () => {
    const [finding] = privilegeFindings({
      root: false,
      netBindService: false,
      unprivilegedPortStart: 1024,
    });
    expect(finding?.ok).toBe(false);
    expect(finding?.fix).toMatch(
      /^run as root \(sudo metal …\), or grant node the capability: sudo setcap cap_net_bind_service=\+ep/,
    );
  });

  it("checks the installer directory's three files", async () => {
    const f = await fixture();
    try {
      expect(await installerFindings(f.installerDir)).toEqual([
        { ok: true, message: `installer ${f.installerDir}: bzImage, initrd and cmdline present` },
      ]);
      const [missing] = await installerFindings(`${f.directory}/none`);
      expect(missing?.message).toBe(
        `installer ${f.directory}/none: bzImage is missing; initrd is missing; cmdline is missing`,
      );
    } finally {
      await f.cleanup();
    }
  });

  it("finds a TCP port in use (probed on loopback)", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1" }, resolve));
    const port = (server.address() as { port: number }).port;
    try {
      expect(await probePort({ port, protocol: "tcp", service: "HTTP" }, "127.0.0.1")).toBe(
        "EADDRINUSE",
      );
    } finally {
      server.close();
    }
    expect(
      await probePort({ port, protocol: "tcp", service: "HTTP" }, "127.0.0.1"),
    ).toBeUndefined();
  });

  it("prints each problem with its fix under it", () => {
    expect(
      formatFindings([
        { ok: true, message: "a" },
        { ok: false, message: "b", fix: "do c" },
      ]),
    ).toBe("ok    a\nFAIL  b\n      fix: do c");
  });
});
