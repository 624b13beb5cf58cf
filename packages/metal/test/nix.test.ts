/**
 * The Nix side of the cluster definition, checked offline with Debian's nix-instantiate (no
 * nixpkgs): every .nix file parses, and the plain-function library (nix/lib) derives the host
 * settings and disko layouts the modules build on. The shape is the contract with the
 * TypeScript CLI (docs/nix.md).
 */
import { execa } from "execa";
import { readdir, writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { hostSettings as cliHostSettings } from "../src/inventory/host-settings.js";
import { loadInventory } from "../src/inventory/load.js";
import {
  evaluateNixDiskoLayouts,
  evaluateNixHostSettings,
  NixEvaluationError,
} from "../src/nix/index.js";
import { EXPECTED_CEPH_PARTITION, expectedPartitions } from "./helpers/disk-layout.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const fixtures = join(repoRoot, "nix/tests/fixtures");
const SKIPPED_DIRS = new Set(["node_modules", ".git", "dist"]);

const hasNix = await execa("nix-instantiate", ["--version"]).then(
  () => true,
  () => false,
);
if (!hasNix) {
  console.warn(
    "nix.test.ts: skipped: nix-instantiate is missing (scripts/bootstrap.sh installs nix-bin)",
  );
}

async function nixFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return SKIPPED_DIRS.has(entry.name) ? [] : nixFiles(path);
      return entry.name.endsWith(".nix") ? [path] : [];
    }),
  );
  return nested.flat();
}

const hostSettings = evaluateNixHostSettings;
const diskoLayouts = evaluateNixDiskoLayouts;

async function exampleInventories(): Promise<string[]> {
  const dir = join(repoRoot, "examples");
  const names = await readdir(dir).catch(() => []);
  return names.filter((name) => name.endsWith(".toml")).map((name) => join(dir, name));
}

describe.skipIf(!hasNix)("nix", () => {
  it("parses every .nix file of the repository", async () => {
    const files = await nixFiles(repoRoot);
    expect(files.map((file) => relative(repoRoot, file))).toContain("flake.nix");
    // One process for all files (it stops at the first error, naming the file): one per file
    // took longer than a test may on a busy machine.
    await expect(execa("nix-instantiate", ["--parse", ...files])).resolves.toBeTruthy();
  });

  it("derives every host's settings from an inventory that leaves the optional fields out", async () => {
    const settings = await hostSettings(join(fixtures, "lab.toml"));
    expect(settings).toEqual({
      node1: {
        name: "node1",
        fqdn: "node1.lab.internal",
        mac: "52:54:00:77:00:01",
        address: "10.77.0.11",
        prefixLength: 24,
        gateway: "10.77.0.1",
        dns: ["10.77.0.1"],
        interface: null,
        role: "server",
        init: true,
        arch: "x86_64",
        disk: "/dev/vda",
        partitions: expectedPartitions("64G"),
        k3s: {
          role: "server",
          clusterInit: true,
          serverAddr: null,
          extraFlags: [
            "--tls-san=10.77.0.10",
            "--node-ip=10.77.0.11",
            "--disable=traefik",
            "--disable=servicelb",
          ],
        },
      },
      node2: {
        name: "node2",
        fqdn: "node2.lab.internal",
        mac: "52:54:00:77:00:02",
        address: "10.77.0.12",
        prefixLength: 24,
        gateway: "10.77.0.1",
        dns: ["10.77.0.1"],
        interface: null,
        role: "agent",
        init: false,
        arch: "aarch64",
        disk: "/dev/vda",
        partitions: expectedPartitions("64G"),
        k3s: {
          role: "agent",
          clusterInit: false,
          serverAddr: "https://10.77.0.10:6443",
          extraFlags: ["--node-ip=10.77.0.12"],
        },
      },
    });
  });

  it("canonicalises MACs, keeps overrides and orders server flags tls-san, node-ip, disables, extra", async () => {
    const settings = await hostSettings(join(fixtures, "homelab.toml"));
    expect(Object.keys(settings).sort()).toEqual(["node1", "node2", "node3"]);
    expect(settings.node2?.mac).toBe("52:54:00:12:34:0a");
    expect(settings.node3?.mac).toBe("52:54:00:12:34:03");
    expect(settings.node2?.interface).toBe("enp1s0");
    expect(settings.node3?.partitions[1]?.size).toBe("100G");
    expect(settings.node2?.k3s).toEqual({
      role: "server",
      clusterInit: false,
      serverAddr: "https://192.168.1.40:6443",
      extraFlags: [
        "--tls-san=192.168.1.40",
        "--node-ip=192.168.1.12",
        "--disable=traefik",
        "--disable=servicelb",
        "--write-kubeconfig-mode=0640",
      ],
    });
  });

  it("derives the VM test's hosts with every server on the shared interface and all disables", async () => {
    const settings = await hostSettings(join(fixtures, "vm-test.toml"));
    expect(Object.values(settings).map((host) => host.interface)).toEqual(["eth1", "eth1", "eth1"]);
    expect(settings.server2?.k3s.extraFlags).toEqual([
      "--tls-san=192.168.1.100",
      "--node-ip=192.168.1.12",
      "--disable=traefik",
      "--disable=servicelb",
      "--disable=coredns",
      "--disable=local-storage",
      "--disable=metrics-server",
    ]);
    expect(settings.agent?.k3s).toMatchObject({
      serverAddr: "https://192.168.1.100:6443",
      extraFlags: ["--node-ip=192.168.1.13"],
    });
  });

  it("lays out each disk as GPT with ESP, root and an unformatted ceph partition taking the rest", async () => {
    const layouts = await diskoLayouts(join(fixtures, "homelab.toml"));
    expect(layouts.node3).toEqual({
      disk: {
        main: {
          type: "disk",
          device: "/dev/sda",
          content: {
            type: "gpt",
            partitions: {
              ESP: {
                size: "1G",
                type: "EF00",
                label: "disk-main-ESP",
                content: {
                  type: "filesystem",
                  format: "vfat",
                  mountpoint: "/boot",
                  mountOptions: ["umask=0077"],
                },
              },
              root: {
                size: "100G",
                type: "8300",
                label: "disk-main-root",
                content: { type: "filesystem", format: "ext4", mountpoint: "/" },
              },
              ceph: { size: "100%", type: "8300", label: "disk-main-ceph" },
            },
          },
        },
      },
    });
  });

  const CLUSTER_AND_NETWORK = [
    '[cluster]\nname = "x"\ndomain = "x.internal"',
    '[network]\ninterface = "eth0"\nsubnet = "10.0.0.0/24"\ngateway = "10.0.0.1"\ndns = ["10.0.0.1"]\nvip = "10.0.0.5"',
  ].join("\n");
  const host = (name: string, fields: string) =>
    `[[hosts]]\nname = "${name}"\nip = "10.0.0.11/24"\ndisk = "/dev/vda"\n${fields}`;
  const SERVER = 'mac = "52:54:00:00:00:01"\nrole = "server"\ninit = true';

  it.each([
    [
      "two init servers",
      [host("a", SERVER), host("b", 'mac = "52:54:00:00:00:02"\nrole = "server"\ninit = true')],
      /2 hosts have init = true; exactly one server must/,
    ],
    [
      "a host listed twice",
      [host("a", SERVER), host("a", 'mac = "52:54:00:00:00:02"\nrole = "agent"')],
      /host `a` is listed twice; give every host one entry/,
    ],
    [
      "a malformed MAC",
      [host("a", 'mac = "52:54:00:00:00"\nrole = "server"\ninit = true')],
      /hosts\[0\] \(a\): mac `52:54:00:00:00` is not a MAC address; write it like 52:54:00:12:34:56/,
    ],
    [
      "an unknown role",
      [host("a", 'mac = "52:54:00:00:00:01"\nrole = "master"\ninit = true')],
      /hosts\[0\] \(a\): role `master` is neither "server" nor "agent"/,
    ],
    [
      "a host without a disk",
      ['[[hosts]]\nname = "a"\nip = "10.0.0.11/24"\n' + SERVER],
      /hosts\[0\] \(a\): missing `disk`/,
    ],
  ])("rejects an inventory with %s and says how to fix it", async (_case, hosts, message) => {
    const dir = await mkdtemp(join(tmpdir(), "metal-nix-"));
    try {
      const file = join(dir, "cluster.toml");
      await writeFile(file, [CLUSTER_AND_NETWORK, ...hosts].join("\n"));
      const failure = hostSettings(file);
      await expect(failure).rejects.toBeInstanceOf(NixEvaluationError);
      await expect(failure).rejects.toThrow(message);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("gives every host of the example inventories a raw ceph partition that takes the rest of its disk", async () => {
    const inventories = await exampleInventories();
    if (inventories.length === 0)
      console.warn("nix.test.ts: no examples/*.toml yet; only the fixtures were evaluated");
    for (const file of inventories) {
      const settings = await hostSettings(file);
      expect(Object.keys(settings).length, file).toBeGreaterThan(0);
      for (const host of Object.values(settings)) {
        expect(host.partitions.at(-1), `${file}: ${host.name}`).toEqual(EXPECTED_CEPH_PARTITION);
      }
    }
  });
});

describe.skipIf(!hasNix)("the CLI and the flake", () => {
  it("derive the same settings for every host of every example inventory and fixture", async () => {
    const files = [
      ...(await exampleInventories()),
      ...["homelab.toml", "lab.toml", "vm-test.toml"].map((name) => join(fixtures, name)),
    ];
    for (const file of files) {
      expect(await hostSettings(file), file).toEqual(cliHostSettings(await loadInventory(file)));
    }
  });
});
