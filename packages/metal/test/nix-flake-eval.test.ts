/**
 * The flake's outputs evaluated offline, the way `nixos-anywhere --flake .#HOST` and
 * `nix build .#installer` see them, for every host of both example inventories: nixpkgs' real
 * `lib`, disko's and sops-nix's real NixOS modules (snapshots in ../shared/nix-sources), stand-ins
 * only for options nixpkgs declares (nix/tests/offline/). The cluster repository is made the way
 * a user makes it: the inventory as cluster.toml and `metal secrets init` (the real CLI code, with
 * the fake sops of the secrets tests). What is checked is what decides whether an installed host
 * can be reached and can join: the admin key, the sops secret names, kube-vip's leader identity,
 * the disk layout and the static address.
 */
import { execa } from "execa";
import { access, copyFile, cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostSettings } from "../src/inventory/host-settings.js";
import { loadInventory } from "../src/inventory/load.js";
import { privatePaths, REPO_PATHS, SECRET_KEYS } from "../src/secrets/layout.js";
import { reconcileSecrets } from "../src/secrets/reconcile.js";
import { SOPS_TEST_TIMEOUT, workspace, type Workspace } from "./secrets/helpers.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
/** Where the upstream snapshots live: `../shared/nix-sources` beside the checkout, or this variable. */
const NIX_SOURCES_ENV = "METAL_NIX_SOURCES";
const nixSources = process.env[NIX_SOURCES_ENV] ?? join(repoRoot, "../shared/nix-sources");
const SOURCE_ARCHIVES = ["nixpkgs-lib", "disko", "sops-nix", "nixos-anywhere"] as const;
/** What a cluster repository holds of the project: the flake and what it imports. */
const FLAKE_FILES = ["flake.nix", "nix", "examples"] as const;
const EVAL_ENTRY = "nix/tests/offline/eval-flake.nix";
const VM_TEST_ENTRY = join(repoRoot, "nix/tests/offline/eval-vm-test.nix");
/** Evaluating every host's modules takes a few seconds each on a busy two-core machine. */
const EVAL_TIMEOUT = 240_000;

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

const missing: string[] = [];
if (
  !(await execa("nix-instantiate", ["--version"]).then(
    () => true,
    () => false,
  ))
)
  missing.push("nix-instantiate is not installed (scripts/bootstrap.sh installs nix-bin)");
for (const name of SOURCE_ARCHIVES) {
  if (!(await exists(join(nixSources, `${name}.tar.gz`))))
    missing.push(`${join(nixSources, `${name}.tar.gz`)} is missing (set ${NIX_SOURCES_ENV})`);
}
if (missing.length > 0) {
  console.warn(
    `nix-flake-eval.test.ts: SKIPPED, the flake's outputs were NOT evaluated: ${missing.join("; ")}`,
  );
}

interface Partition {
  size: string;
  type: string;
  label: string;
  device: string;
  content: { type: string; format: string; mountpoint: string } | null;
}

interface HostFacts {
  hostName: string;
  domain: string;
  rootAuthorizedKeys: string[];
  sshd: { enable: boolean; PasswordAuthentication: boolean; PermitRootLogin: string };
  sops: {
    defaultSopsFile: string;
    ageSshKeyPaths: string[];
    secrets: Record<string, { key: string; path: string; sopsFile: string }>;
  };
  k3s: { enable: boolean; role: string; tokenFile: string };
  kubeVipEnv: Array<Record<string, unknown>> | null;
  disks: Record<string, { device: string; partitions: Record<string, Partition> }>;
  fileSystems: Record<string, { device: string; fsType: string }>;
  networkd: {
    links: Record<
      string,
      { matchConfig: Record<string, string>; linkConfig: Record<string, string> }
    >;
    networks: Record<
      string,
      { matchConfig: Record<string, string>; address: string[]; gateway: string[]; dns: string[] }
    >;
  };
  mdns: boolean;
}

interface FlakeInput {
  url?: string;
  follows?: string;
  inputs?: Record<string, FlakeInput>;
}

interface InstallerFacts {
  hostName: string;
  rootAuthorizedKeys: string[];
  sshd: { enable: boolean; PasswordAuthentication: boolean; PermitRootLogin: string };
  kernelParams: string[];
  agentUnit: Record<string, string>;
}

let sources = "";
beforeAll(async () => {
  if (missing.length > 0) return;
  sources = await mkdtemp(join(tmpdir(), "metal-nix-sources-"));
  for (const name of SOURCE_ARCHIVES) {
    await execa("tar", ["-xzf", join(nixSources, `${name}.tar.gz`), "-C", sources]);
  }
});
afterAll(async () => {
  if (sources !== "") await rm(sources, { recursive: true, force: true });
});

/** A cluster repository as a user has it before `git add`: the project's flake files and an inventory. */
async function clusterRepo(ws: Workspace, inventoryFile: string | undefined): Promise<void> {
  for (const name of FLAKE_FILES)
    await cp(join(repoRoot, name), join(ws.repo, name), { recursive: true });
  await rm(join(ws.repo, "cluster.toml"));
  if (inventoryFile !== undefined) await copyFile(inventoryFile, join(ws.repo, "cluster.toml"));
}

async function evaluateFlake(flakeDir: string): Promise<Record<string, unknown>> {
  const { stdout } = await execa("nix-instantiate", [
    "--eval",
    "--strict",
    "--json",
    join(flakeDir, EVAL_ENTRY),
    "--argstr",
    "flakeDir",
    flakeDir,
    "--argstr",
    "sources",
    sources,
  ]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe.skipIf(missing.length > 0)("the flake's outputs, evaluated offline", () => {
  describe.each(["homelab.toml", "lab.toml"])("for examples/%s", (example) => {
    let ws: Workspace;
    let outputs: Record<string, unknown>;
    let adminKey: string;

    beforeAll(async () => {
      ws = await workspace();
      await clusterRepo(ws, join(repoRoot, "examples", example));
      const inventory = await loadInventory(join(ws.repo, "cluster.toml"));
      await reconcileSecrets({ inventory, secretsDir: ws.secretsDir, env: ws.envWithSops });
      adminKey = (await readFile(privatePaths(ws.secretsDir).adminSshPublicKey, "utf8")).trim();
      outputs = await evaluateFlake(ws.repo);
    }, EVAL_TIMEOUT + SOPS_TEST_TIMEOUT);
    afterAll(async () => {
      await ws?.dispose();
    });

    const hostsOf = async () =>
      Object.values(hostSettings(await loadInventory(join(ws.repo, "cluster.toml"))));
    const factsOf = (name: string) => outputs[name] as HostFacts;

    it("has one configuration per host of the inventory, plus an installer per architecture", async () => {
      const names = (await hostsOf()).map((host) => host.name);
      expect(Object.keys(outputs).sort()).toEqual(
        [...names, "installer-aarch64", "installer-x86_64"].sort(),
      );
    });

    it("lets root in with the admin key `metal secrets init` wrote, on every host and installer", () => {
      for (const [name, facts] of Object.entries(outputs)) {
        const { rootAuthorizedKeys, sshd } = facts as HostFacts | InstallerFacts;
        expect(rootAuthorizedKeys, name).toEqual([adminKey]);
        expect(sshd, name).toEqual({
          enable: true,
          PasswordAuthentication: false,
          PermitRootLogin: "prohibit-password",
        });
      }
    });

    it("decrypts exactly the secrets the CLI writes, from the files it writes them to", async () => {
      for (const host of await hostsOf()) {
        const { sops, k3s } = factsOf(host.name);
        expect(Object.keys(sops.secrets).sort(), host.name).toEqual(
          Object.values(SECRET_KEYS).sort(),
        );
        expect(sops.secrets[SECRET_KEYS.k3sToken]?.sopsFile).toBe(
          join(ws.repo, REPO_PATHS.clusterSecrets),
        );
        expect(sops.secrets[SECRET_KEYS.nodePassword]).toEqual({
          key: SECRET_KEYS.nodePassword,
          path: "/etc/rancher/node/password",
          sopsFile: join(ws.repo, REPO_PATHS.hostSecrets(host.name)),
        });
        expect(sops.defaultSopsFile).toBe(join(ws.repo, REPO_PATHS.clusterSecrets));
        for (const secret of Object.values(sops.secrets)) {
          expect(await exists(secret.sopsFile), secret.sopsFile).toBe(true);
        }
        expect(sops.ageSshKeyPaths).toEqual(["/etc/ssh/ssh_host_ed25519_key"]);
        expect(k3s.tokenFile).toBe(sops.secrets[SECRET_KEYS.k3sToken]?.path);
      }
    });

    it("gives kube-vip on every server its node name from the downward API, and none to agents", async () => {
      for (const host of await hostsOf()) {
        const { kubeVipEnv } = factsOf(host.name);
        if (host.role === "agent") {
          expect(kubeVipEnv, host.name).toBeNull();
          continue;
        }
        expect(kubeVipEnv, host.name).toContainEqual({
          name: "vip_nodename",
          valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } },
        });
        expect(kubeVipEnv).toContainEqual({ name: "vip_leaderelection", value: "true" });
      }
    });

    it("partitions the inventory's disk: ESP, ext4 root of the inventory's size, raw ceph for the rest", async () => {
      for (const host of await hostsOf()) {
        const { disks, fileSystems } = factsOf(host.name);
        const rootSize = host.partitions.find((partition) => partition.name === "root")?.size;
        const byLabel = (label: string) => `/dev/disk/by-partlabel/${label}`;
        expect(disks, host.name).toEqual({
          main: {
            device: host.disk,
            partitions: {
              ESP: {
                size: "1G",
                type: "EF00",
                label: "disk-main-ESP",
                device: byLabel("disk-main-ESP"),
                content: { type: "filesystem", format: "vfat", mountpoint: "/boot" },
              },
              root: {
                size: rootSize,
                type: "8300",
                label: "disk-main-root",
                device: byLabel("disk-main-root"),
                content: { type: "filesystem", format: "ext4", mountpoint: "/" },
              },
              ceph: {
                size: "100%",
                type: "8300",
                label: "disk-main-ceph",
                device: byLabel("disk-main-ceph"),
                content: null,
              },
            },
          },
        });
        expect(fileSystems, host.name).toEqual({
          "/": { device: byLabel("disk-main-root"), fsType: "ext4" },
          "/boot": { device: byLabel("disk-main-ESP"), fsType: "vfat" },
        });
      }
    });

    it("gives each host its static address on the NIC the inventory names or the one with its MAC", async () => {
      for (const host of await hostsOf()) {
        const { hostName, domain, networkd, mdns } = factsOf(host.name);
        expect(`${hostName}.${domain}`).toBe(host.fqdn);
        const nic = host.interface ?? "lan0";
        expect(networkd.networks, host.name).toEqual({
          [`10-${nic}`]: {
            matchConfig: { Name: nic },
            address: [`${host.address}/${host.prefixLength}`],
            gateway: [host.gateway],
            dns: host.dns,
          },
        });
        expect(networkd.links, host.name).toEqual(
          host.interface === null
            ? {
                [`10-${nic}`]: {
                  matchConfig: { PermanentMACAddress: host.mac },
                  linkConfig: { Name: nic },
                },
              }
            : {},
        );
        expect(mdns).toBe(false);
      }
    });

    it("builds each installer for its architecture, reporting only when booted by metal", () => {
      const x86 = outputs["installer-x86_64"] as InstallerFacts;
      const arm = outputs["installer-aarch64"] as InstallerFacts;
      expect(x86.kernelParams).toEqual(["console=ttyS0,115200n8", "console=tty0"]);
      expect(arm.kernelParams).toEqual(["console=tty0"]);
      for (const installer of [x86, arm]) {
        expect(installer.agentUnit).toEqual({ ConditionKernelCommandLine: "metal.callback" });
      }
    });
  });

  describe("without cluster.toml in the flake's source", () => {
    let ws: Workspace;
    beforeAll(async () => {
      ws = await workspace();
      await clusterRepo(ws, join(repoRoot, "examples", "lab.toml"));
      const inventory = await loadInventory(join(ws.repo, "cluster.toml"));
      await reconcileSecrets({ inventory, secretsDir: ws.secretsDir, env: ws.envWithSops });
      // As after `metal secrets init` without `git add cluster.toml`: flakes see only tracked files.
      await rm(join(ws.repo, "cluster.toml"));
    }, SOPS_TEST_TIMEOUT);
    afterAll(async () => {
      await ws?.dispose();
    });

    it(
      "stops with the fix instead of building an example inventory's hosts",
      async () => {
        const failure = evaluateFlake(ws.repo);
        await expect(failure).rejects.toThrow(/cluster\.toml is not in the flake's source/);
        await expect(failure).rejects.toThrow(/git add cluster\.toml/);
      },
      EVAL_TIMEOUT,
    );
  });

  it("evaluates the VM test without a kube-vip pin; building it names the command that pins it", async () => {
    const { stdout } = await execa("nix-instantiate", [
      "--eval",
      "--strict",
      "--json",
      VM_TEST_ENTRY,
      "--argstr",
      "sources",
      sources,
    ]);
    const images = JSON.parse(stdout) as Record<
      string,
      Array<{ kind: string; args: { name: string; script?: string } }>
    >;
    const kubeVip = (node: string) =>
      images[node]?.filter((image) => image.args.name !== "test.local/pause");
    for (const server of ["server1", "server2"]) {
      expect(kubeVip(server)).toEqual([
        {
          kind: "runCommand",
          args: expect.objectContaining({
            name: "kube-vip-image-not-pinned",
            script: expect.stringContaining(
              "nix-prefetch-docker -- --json --image-name ghcr.io/kube-vip/kube-vip",
            ) as string,
          }) as object,
        },
      ]);
    }
    expect(kubeVip("agent")).toEqual([]);
  });

  it("follows upstream's stable nixpkgs and makes every input that fetches nixpkgs or disko use ours", async () => {
    const inputsOf = async (flake: string) =>
      JSON.parse(
        (
          await execa("nix-instantiate", [
            "--eval",
            "--strict",
            "--json",
            "--expr",
            `(import ${flake}).inputs`,
          ])
        ).stdout,
      ) as Record<string, FlakeInput>;
    const ours = await inputsOf(join(repoRoot, "flake.nix"));
    const anywhere = await inputsOf(join(sources, "nixos-anywhere/flake.nix"));

    // nixos-anywhere's stable input names the current NixOS release branch.
    expect(ours.nixpkgs?.url?.toLowerCase()).toBe(anywhere["nixos-stable"]?.url?.toLowerCase());
    for (const name of ["disko", "sops-nix"]) {
      const upstream = await inputsOf(join(sources, name, "flake.nix"));
      for (const input of Object.keys(upstream)) {
        expect(ours[name]?.inputs?.[input]?.follows, `${name}.${input}`).toBe("nixpkgs");
      }
    }
    const followed = ours["nixos-anywhere"]?.inputs ?? {};
    for (const [name, input] of Object.entries(anywhere)) {
      if (/nixpkgs/i.test(input.url ?? "")) expect(followed[name]?.follows, name).toBe("nixpkgs");
      else if (name === "disko") expect(followed[name]?.follows, name).toBe("disko");
      else {
        // Its other inputs take nixpkgs only through nixos-anywhere's own, now ours.
        for (const [inner, follow] of Object.entries(input.inputs ?? {})) {
          expect(followed[follow.follows ?? ""]?.follows, `${name}.${inner}`).toBe("nixpkgs");
        }
      }
    }
  });
});
