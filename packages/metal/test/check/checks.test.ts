import { execa } from "execa";
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  firstStageFindings,
  formatFindings,
  gitFindings,
  installCommandFindings,
  installerFindings,
  interfaceFindings,
  privilegeFindings,
} from "../../src/check/checks.js";
import type { Inventory } from "../../src/inventory/types.js";
import { ensureLabKeys } from "../../src/lab/lab-keys.js";
import { probePort } from "../../src/check/ports.js";
import { canBindLowPorts, hasNetBindService } from "../../src/check/privileges.js";
import { loadInventory } from "../../src/inventory/load.js";
import { secretsFindings } from "../../src/secrets/key-findings.js";
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
      message:
        "interface eth0 does not exist on this machine: proxyDHCP, TFTP and HTTP listen on it",
      fix: "set network.interface (or pass --interface) to the NIC on the nodes' LAN; this machine has lo, enp3s0",
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

describe("the preflight checks metal install runs first", () => {
  const withTemp = async (work: (directory: string) => Promise<void>) => {
    const directory = await mkdtemp(join(tmpdir(), "metal-preflight-"));
    try {
      await work(directory);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  };

  it("passes the --interface name over the inventory's network.interface", async () => {
    const inventory = await loadInventory(LAB_INVENTORY);
    expect(interfaceFindings(inventory, { enp3s0: [address("10.77.0.5")] }, "enp3s0")).toEqual([
      { ok: true, message: "interface enp3s0: 10.77.0.5 in 10.77.0.0/24" },
    ]);
  });

  it("fails an iPXE directory without first stages, naming both files and --ipxe-dir", () =>
    withTemp(async (directory) => {
      const [finding] = await firstStageFindings(directory);
      expect(finding?.ok).toBe(false);
      expect(finding?.message).toContain("neither undionly.kpxe (bios) nor ipxe.efi (uefi-x64)");
      expect(finding?.fix).toContain("--ipxe-dir");
    }));

  it("names the firmware that cannot boot when only one first stage is there", () =>
    withTemp(async (directory) => {
      await writeFile(join(directory, "undionly.kpxe"), "first stage");
      const [finding] = await firstStageFindings(directory);
      expect(finding?.ok).toBe(false);
      expect(finding?.message).toContain("ipxe.efi (uefi-x64) missing");
    }));

  it("accepts first stages that are links out of the directory, as the server copies them", () =>
    withTemp(async (directory) => {
      const elsewhere = join(directory, "boot");
      const ipxe = join(directory, "ipxe");
      await mkdir(elsewhere);
      await mkdir(ipxe);
      await writeFile(join(elsewhere, "ipxe.efi"), "uefi first stage");
      await symlink(join(elsewhere, "ipxe.efi"), join(ipxe, "ipxe.efi"));
      await writeFile(join(ipxe, "undionly.kpxe"), "bios first stage");
      expect(await firstStageFindings(ipxe)).toEqual([
        { ok: true, message: `first stages ${ipxe}: undionly.kpxe (bios), ipxe.efi (uefi-x64)` },
      ]);
    }));

  it("lists every missing key and says to run metal secrets init as the installing user", () =>
    withTemp(async (directory) => {
      const inventory = await loadInventory(LAB_INVENTORY);
      const [missing] = await secretsFindings(inventory, directory);
      expect(missing?.ok).toBe(false);
      expect(missing?.message).toContain(join(directory, "admin", "id_ed25519"));
      expect(missing?.message).toContain(join(directory, "hosts", "node3", "ssh_host_ed25519_key"));
      expect(missing?.fix).toContain("metal secrets init");
      await ensureLabKeys(inventory, directory);
      expect((await secretsFindings(inventory, directory))[0]?.ok).toBe(true);
    }));

  it("fails when nixos-anywhere is not on PATH and says how to keep the devShell's PATH under sudo", async () => {
    const inventory = await loadInventory(LAB_INVENTORY);
    const saved = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      const [finding] = await installCommandFindings(inventory);
      expect(finding?.ok).toBe(false);
      expect(finding?.message).toContain("nixos-anywhere is not on PATH");
      expect(finding?.fix).toContain('sudo env "PATH=$PATH" metal install');
    } finally {
      process.env.PATH = saved;
    }
    const custom = {
      ...inventory,
      install: { ...inventory.install, command: ["sh", "-c", "true"] },
    };
    expect((await installCommandFindings(custom))[0]?.ok).toBe(true);
  });

  it("fails an inventory the flake cannot see because git does not track it, and names the git add", () =>
    withTemp(async (directory) => {
      const git = (...args: string[]) => execa("git", args, { cwd: directory });
      await git("init", "-q");
      await copyFile(LAB_INVENTORY, join(directory, "cluster.toml"));
      await mkdir(join(directory, "keys"));
      await writeFile(join(directory, "keys", "admin.pub"), "ssh-ed25519 AAAA admin\n");
      const inventory = await loadInventory(join(directory, "cluster.toml"));
      const [untracked] = await gitFindings(inventory);
      expect(untracked?.ok).toBe(false);
      expect(untracked?.message).toContain("cluster.toml");
      expect(untracked?.message).toContain("keys/admin.pub");
      expect(untracked?.fix).toBe(
        `git add cluster.toml keys/admin.pub (in ${directory}); committing is not needed`,
      );
      await git("add", "cluster.toml", "keys");
      expect((await gitFindings(inventory))[0]?.ok).toBe(true);
      const noFlake: Inventory = {
        ...inventory,
        install: { ...inventory.install, command: ["sh", "-c", "true"] },
      };
      await writeFile(join(directory, "keys", "new.pub"), "x");
      expect(await gitFindings(noFlake)).toEqual([]);
    }));
});
