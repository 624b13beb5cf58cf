import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach } from "vitest";
import type { Host, Inventory } from "../../src/inventory/types.js";
import { reconcileSecrets } from "../../src/secrets/reconcile.js";

/**
 * Each fake sops call starts a Node process; on a shared two-core machine a test with ten of
 * them can pass Vitest's 5 s default without anything being wrong.
 */
export const SOPS_TEST_TIMEOUT = 60_000;

const FAKE_SOPS = fileURLToPath(new URL("./fixtures/fake-sops.mjs", import.meta.url));

export function host(name: string, octet: number): Host {
  return {
    name,
    mac: `52:54:00:12:34:${octet.toString(16).padStart(2, "0")}`,
    address: `192.168.1.${octet}`,
    prefixLength: 24,
    role: octet === 11 ? "server" : "agent",
    init: octet === 11,
    disk: "/dev/sda",
    arch: "x86_64",
    firstStage: undefined,
    rootSize: "64G",
    interface: undefined,
  };
}

export function inventory(repoRoot: string, hosts: readonly Host[]): Inventory {
  return {
    source: path.join(repoRoot, "cluster.toml"),
    cluster: { name: "homelab", domain: "home.arpa", flake: ".", gitopsRepo: undefined },
    network: {
      interface: "eth0",
      subnet: "192.168.1.0/24",
      gateway: "192.168.1.1",
      dns: ["192.168.1.1"],
      vip: "192.168.1.40",
    },
    k3s: { disable: ["traefik", "servicelb"], extraFlags: [] },
    install: { rootSize: "64G", parallel: 3, retries: 2, command: undefined },
    hosts,
  };
}

export interface Workspace {
  readonly root: string;
  readonly repo: string;
  readonly secretsDir: string;
  readonly sopsLog: string;
  /** An environment whose PATH has the fake sops first. */
  readonly envWithSops: NodeJS.ProcessEnv;
  /** An environment whose PATH has no sops at all. */
  readonly envWithoutSops: NodeJS.ProcessEnv;
  dispose(): Promise<void>;
}

export async function workspace(): Promise<Workspace> {
  const root = await mkdtemp(path.join(tmpdir(), "metal-secrets-test-"));
  const repo = path.join(root, "repo");
  const bin = path.join(root, "bin");
  await mkdir(repo);
  await mkdir(bin);
  await writeFile(path.join(repo, "cluster.toml"), "# test inventory\n");
  const sops = path.join(bin, "sops");
  await writeFile(sops, `#!/bin/sh\nexec "${process.execPath}" "${FAKE_SOPS}" "$@"\n`);
  await chmod(sops, 0o755);
  const sopsLog = path.join(root, "sops.log");
  const emptyPath = path.join(root, "empty-path");
  await mkdir(emptyPath);
  return {
    root,
    repo,
    secretsDir: path.join(root, "home", ".config", "metal", "homelab"),
    sopsLog,
    envWithSops: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_SOPS_LOG: sopsLog },
    envWithoutSops: { ...process.env, PATH: emptyPath },
    dispose: () => rm(root, { recursive: true, force: true }),
  };
}

/**
 * A fresh workspace for every test of the calling file, removed after it. With `reconciledFor`,
 * its secrets are first reconciled for those hosts, where the commands under test start from.
 */
export function workspaceForEachTest(reconciledFor?: readonly Host[]): () => Workspace {
  let current: Workspace | undefined;
  beforeEach(async () => {
    current = await workspace();
    if (reconciledFor) {
      await reconcileSecrets({
        inventory: inventory(current.repo, reconciledFor),
        secretsDir: current.secretsDir,
        env: current.envWithSops,
      });
    }
  }, SOPS_TEST_TIMEOUT);
  afterEach(async () => {
    await current?.dispose();
    current = undefined;
  });
  return () => {
    if (!current) throw new Error("the workspace exists only while a test runs");
    return current;
  };
}

export interface SopsCall {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly ageKeyFile: string | undefined;
  readonly stdin?: string;
}

export async function sopsCalls(log: string): Promise<SopsCall[]> {
  const text = await readFile(log, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SopsCall);
}

/** Every file under `dir`: relative path → content, mode and mtime. */
export async function snapshot(
  dir: string,
): Promise<Map<string, { content: string; mode: number; mtimeMs: number }>> {
  const files = new Map<string, { content: string; mode: number; mtimeMs: number }>();
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const info = await stat(full);
      if (entry.isDirectory()) {
        files.set(`${path.relative(dir, full)}/`, {
          content: "",
          mode: info.mode & 0o777,
          mtimeMs: info.mtimeMs,
        });
        await walk(full);
      } else {
        const content = await readFile(full, "utf8");
        files.set(path.relative(dir, full), {
          content,
          mode: info.mode & 0o777,
          mtimeMs: info.mtimeMs,
        });
      }
    }
  };
  await walk(dir);
  return files;
}
