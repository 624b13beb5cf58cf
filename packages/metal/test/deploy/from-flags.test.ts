import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { execa } from "execa";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { registerDeploy } from "../../src/commands/deploy.js";
import {
  EXIT_DEPLOY_FAILED,
  EXIT_OK,
  loadCommands,
  runDeployCommand,
  type DeployFlags,
} from "../../src/deploy/from-flags.js";
import { DeployUsageError } from "../../src/deploy/errors.js";
import { privatePaths } from "../../src/secrets/index.js";
import type { DeployEvent } from "../../src/deploy/events.js";
import { FakeKubeApi } from "./fake-kube-api.js";
import { CLUSTER, testCommands, writeActivationScript } from "./harness.js";
import { selfSignedCertificate } from "./tls.js";

// Every step fsyncs progress and history: slow on a busy disk, so generous timeouts.
const TEST_TIMEOUT_MS = 60_000;

describe("the metal deploy command", { timeout: TEST_TIMEOUT_MS }, () => {
  let dir: string;
  let api: FakeKubeApi;
  let flags: DeployFlags;
  let printed: string;
  let tls: { key: string; cert: string };
  const output = { write: (text: string) => void (printed += text) };

  beforeAll(async () => {
    tls = await selfSignedCertificate();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "metal-deploy-cmd-"));
    api = new FakeKubeApi();
    for (const { name, role } of CLUSTER.hosts) api.addNode(name, { etcd: role === "server" });
    await writeFile(join(dir, "kubeconfig"), api.kubeconfig(await api.start(tls), tls.cert));
    await writeFile(
      join(dir, "commands.json"),
      JSON.stringify(testCommands(await writeActivationScript(dir))),
    );
    await writeFile(join(dir, "known_hosts"), "");
    printed = "";
    flags = {
      dryRun: false,
      parallel: "2",
      reboot: "never",
      kubeconfig: join(dir, "kubeconfig"),
      state: join(dir, "state"),
      knownHosts: join(dir, "known_hosts"),
      identity: undefined,
      secretsDir: join(dir, "secrets"),
      commands: join(dir, "commands.json"),
      drainTimeout: "5",
      readyTimeout: "5",
      confirmTimeout: "5",
      force: false,
      deleteEmptydirData: false,
      json: false,
    };
  });

  afterEach(async () => {
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("prints a line per step and exits 0 when every node is deployed", async () => {
    const code = await runDeployCommand(CLUSTER, ["a1"], flags, output);

    expect(code).toBe(EXIT_OK);
    expect(printed).toMatch(/plan: a1\n/);
    expect(printed).toMatch(/a1 +drain +✓ evicted 0 pod\(s\); left 0 pod\(s\)/);
    expect(printed).toMatch(/deploy finished: 1 node\(s\) deployed/);
  });

  it("--json writes one parseable event a line", async () => {
    const code = await runDeployCommand(CLUSTER, ["a1"], { ...flags, json: true }, output);

    expect(code).toBe(EXIT_OK);
    const events = printed
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as DeployEvent);
    expect(events[0]?.type).toBe("deploy.plan");
    expect(events.at(-1)).toMatchObject({ type: "deploy.finished", ok: true, deployed: ["a1"] });
  });

  it("exits 1 with a report on the terminal and in the state directory when a step fails", async () => {
    await writeFile(join(dir, "fail-switch-a1"), "");

    const code = await runDeployCommand(CLUSTER, ["a1", "a2"], { ...flags, parallel: "1" }, output);

    expect(code).toBe(EXIT_DEPLOY_FAILED);
    const report = await readFile(join(dir, "state", "deploy-report.txt"), "utf8");
    expect(printed).toContain(report);
    expect(report).toContain("Node:  a1");
    expect(report).toContain("Step:  activate");
    expect(report).toContain("simulated switch failure on a1");
    expect(report).toContain(
      "a1 was rolled back (metal switched it back to generation 42) and uncordoned",
    );
    expect(api.node("a1").unschedulable).toBe(false);
    expect(api.node("a2").unschedulable).toBe(false);
  });

  it("rejects bad flags before touching anything", async () => {
    await expect(
      runDeployCommand(CLUSTER, [], { ...flags, reboot: "sometimes" }, output),
    ).rejects.toThrow(/--reboot must be one of auto, always, never/);
    await expect(
      runDeployCommand(CLUSTER, [], { ...flags, parallel: "0" }, output),
    ).rejects.toThrow(DeployUsageError);
    await expect(runDeployCommand(CLUSTER, ["nope"], flags, output)).rejects.toThrow(
      /unknown host nope: the inventory has s1, s2, s3, a1, a2, a3/,
    );
    expect(api.requests).toEqual([]);
    expect(existsSync(join(dir, "state"))).toBe(false);
  });

  it("refuses to connect to nodes over SSH without pinned host keys", async () => {
    const defaults = { ...flags, commands: undefined, knownHosts: undefined };
    await expect(runDeployCommand(CLUSTER, ["a1"], defaults, output)).rejects.toThrow(
      /no pinned SSH host keys: the SSH host key of "s1" is missing .*--known-hosts FILE/,
    );
    expect(api.requests).toEqual([]);
    // A dry run connects nowhere, so it needs none.
    expect(await runDeployCommand(CLUSTER, ["a1"], { ...defaults, dryRun: true }, output)).toBe(
      EXIT_OK,
    );
  });

  it("pins the host keys metal secrets generated and logs in with the secrets' admin key", async () => {
    const secrets = privatePaths(join(dir, "secrets"));
    await execa("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "root@node",
      "-f",
      join(dir, "host"),
    ]);
    const hostKey = (await readFile(join(dir, "host.pub"), "utf8"))
      .split(" ")
      .slice(0, 2)
      .join(" ");
    for (const node of CLUSTER.hosts) {
      await mkdir(secrets.hostDir(node.name), { recursive: true });
      await writeFile(secrets.hostPublicKey(node.name), `${hostKey} root@${node.name}\n`);
      await writeFile(secrets.hostKey(node.name), await readFile(join(dir, "host"), "utf8"), {
        mode: 0o600,
      });
    }
    await mkdir(secrets.adminDir, { recursive: true });
    await writeFile(secrets.adminSshKey, "not a real key", { mode: 0o600 });

    const code = await runDeployCommand(
      CLUSTER,
      ["a1"],
      { ...flags, knownHosts: undefined, reboot: "auto" },
      output,
    );

    expect(code).toBe(EXIT_OK);
    const knownHosts = join(dir, "state", "deploy-known_hosts");
    expect(await readFile(knownHosts, "utf8")).toContain(`192.0.2.14,a1 ${hostKey}\n`);
    const calls = await readFile(join(dir, "calls.log"), "utf8");
    expect(calls).toContain(`UserKnownHostsFile=${knownHosts}`);
    expect(calls).toContain(`-i ${secrets.adminSshKey}`);
  });

  it("names a missing --kubeconfig and how to do without it", async () => {
    await expect(
      runDeployCommand(CLUSTER, ["a1"], { ...flags, kubeconfig: join(dir, "missing") }, output),
    ).rejects.toThrow(/cannot use --kubeconfig .*missing.*leave --kubeconfig out/);
    expect(api.requests).toEqual([]);
  });

  it("refuses a commands file with unknown names or non-argv values", async () => {
    await writeFile(join(dir, "bad.json"), JSON.stringify({ swich: ["x"] }));
    await expect(loadCommands(join(dir, "bad.json"))).rejects.toThrow(/unknown command "swich"/);
    await writeFile(join(dir, "bad.json"), JSON.stringify({ switch: "nixos-rebuild switch" }));
    await expect(loadCommands(join(dir, "bad.json"))).rejects.toThrow(/non-empty list of strings/);
  });

  it("is registered as `metal deploy` and reads the inventory file it is given", async () => {
    const example = fileURLToPath(new URL("../../../../examples/homelab.toml", import.meta.url));
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, "write").mockImplementation((text) => {
      lines.push(String(text));
      return true;
    });
    try {
      const program = new Command("metal").exitOverride();
      registerDeploy(program);
      await program.parseAsync(
        ["deploy", "--inventory", example, "--dry-run", "--json", "--parallel", "2"],
        {
          from: "user",
        },
      );
    } finally {
      write.mockRestore();
    }
    const plan = JSON.parse(lines[0] ?? "{}") as DeployEvent;
    expect(plan).toMatchObject({
      type: "deploy.plan",
      dryRun: true,
      batches: [["node2"], ["node3"], ["node1"], ["worker1", "worker2"]],
    });
    expect(existsSync(join(dirname(example), ".metal"))).toBe(false);
  });
});
