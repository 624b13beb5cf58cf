/**
 * The real `metal` binary's exit codes for deploy (src/errors.ts, ADR 0212): a deploy that fails
 * halfway exits 1, whatever kind of error stopped it; a usage error exits 2 and changes nothing.
 */
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FakeKubeApi } from "./fake-kube-api.js";
import { testCommands, writeActivationScript } from "./harness.js";
import { selfSignedCertificate } from "./tls.js";

const PACKAGE = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(PACKAGE, "src", "cli.ts");
const TSX = join(PACKAGE, "..", "..", "node_modules", ".bin", "tsx");
const EXAMPLE = join(PACKAGE, "..", "..", "examples", "homelab.toml");
const TEST_TIMEOUT_MS = 90_000;

describe("metal deploy exit codes", { timeout: TEST_TIMEOUT_MS }, () => {
  let dir: string;
  let api: FakeKubeApi;
  let tls: { key: string; cert: string };

  beforeAll(async () => {
    tls = await selfSignedCertificate();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "metal-exit-"));
    await copyFile(EXAMPLE, join(dir, "cluster.toml"));
    api = new FakeKubeApi();
    for (const name of ["node1", "node2", "node3"]) api.addNode(name, { etcd: true });
    for (const name of ["worker1", "worker2"]) api.addNode(name);
    await writeFile(join(dir, "kubeconfig"), api.kubeconfig(await api.start(tls), tls.cert));
    await writeFile(
      join(dir, "commands.json"),
      JSON.stringify(testCommands(await writeActivationScript(dir))),
    );
    await writeFile(join(dir, "known_hosts"), "");
  });

  afterEach(async () => {
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function metal(...args: string[]) {
    return execa(TSX, [CLI, ...args], { cwd: dir, reject: false, timeout: TEST_TIMEOUT_MS });
  }

  const deployFlags = () => [
    "deploy",
    "--inventory",
    join(dir, "cluster.toml"),
    "--kubeconfig",
    join(dir, "kubeconfig"),
    "--known-hosts",
    join(dir, "known_hosts"),
    "--commands",
    join(dir, "commands.json"),
    "--reboot",
    "never",
  ];

  it("exits 1 when an unexpected error stops a deploy halfway: the first node was already changed", async () => {
    // After worker1 switched, the history file can no longer be appended to: an error metal has
    // no class for, raised with worker1 already running its new system.
    const history = join(dir, ".metal", "deploy-history.jsonl");
    await writeFile(join(dir, "after-switch-worker1"), `rm -f "${history}"; mkdir "${history}"\n`);

    const result = await metal(...deployFlags(), "worker1", "worker2");

    expect(result.stderr).toMatch(/EISDIR/);
    expect(result.exitCode).toBe(1);
  });

  it("exits 1 with the report when a step fails", async () => {
    await writeFile(join(dir, "fail-switch-worker1"), "");
    const result = await metal(...deployFlags(), "worker1");
    expect(result.stdout).toContain("Step:  activate");
    expect(result.exitCode).toBe(1);
  });

  it("exits 2 on a usage error and changes nothing", async () => {
    const result = await metal(...deployFlags(), "--parallel", "0");
    expect(result.stderr).toMatch(/DEPLOY_USAGE: --parallel must be a whole number/);
    expect(result.exitCode).toBe(2);
    const unknownHost = await metal(...deployFlags(), "nosuchhost");
    expect(unknownHost.exitCode).toBe(2);
    expect(api.requests).toEqual([]);
    expect(existsSync(join(dir, ".metal", "deploy.json"))).toBe(false);
  });
});
