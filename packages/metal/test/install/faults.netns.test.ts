/**
 * Fault tests of the real `metal install` process (packages/metal/dist/cli.js) in a network
 * namespace: a fake agent calls back as each host's installer, a fake install command (a shell
 * script) fails on purpose, and the orchestrator is killed with SIGKILL mid-install.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { VirtualNetwork, type NetHost } from "metal-lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadInventory } from "../../src/inventory/load.js";
import { ensureLabKeys } from "../../src/lab/lab-keys.js";
import { readStateFile } from "../../src/state/file-store.js";
import type { ClusterState } from "../../src/state/types.js";
import { fetchInstallerToken, postInstallerFacts } from "./support/fake-agent.js";
import { inventoryToml } from "../helpers/inventory-toml.js";

const CLI = new URL("../../dist/cli.js", import.meta.url).pathname;
const FAKE_INSTALL = new URL("./support/fake-install.sh", import.meta.url).pathname;
const HTTP_PORT = 8080;
/** The dashboard listens on the server namespace's loopback, as on an admin's machine. */
const DASHBOARD_PORT = 8090;
const SERVER_OCTET = 2;
const AGENT_OCTET = 50;
const RUN_TIMEOUT_MS = 120_000;
const HOSTS = [
  { name: "node1", mac: "52:54:00:77:00:01", ip: "10.77.0.11" },
  { name: "node2", mac: "52:54:00:77:00:02", ip: "10.77.0.12" },
  { name: "node3", mac: "52:54:00:77:00:03", ip: "10.77.0.13" },
];

function faultsInventory(fakeDir: string): string {
  return inventoryToml({
    cluster: "faults",
    hosts: HOSTS,
    servers: 2,
    parallel: 3,
    retries: 1,
    command: ["sh", FAKE_INSTALL, fakeDir, "{host}", "{address}", "{extra_files}"],
  });
}

let network: VirtualNetwork;
let server: NetHost;
let agent: NetHost;
let sshStandIn: ResultPromise | undefined;
let work: string;
let fakeDir: string;
let inventoryFile: string;
let installerDir: string;
let secretsDir: string;
let stateDir: string;

beforeAll(async () => {
  network = await VirtualNetwork.create();
  server = await network.addHost("srv", SERVER_OCTET);
  agent = await network.addHost("agt", AGENT_OCTET);
  work = await mkdtemp(join(tmpdir(), "metal-install-faults-"));
  installerDir = join(work, "installer");
  await mkdir(installerDir);
  await writeFile(join(installerDir, "bzImage"), "kernel");
  await writeFile(join(installerDir, "initrd"), "initrd");
  await writeFile(join(installerDir, "cmdline"), "console=ttyS0");
  secretsDir = join(work, "secrets");
});

afterAll(async () => {
  sshStandIn?.kill("SIGKILL");
  await network?.destroy();
  await rm(work, { recursive: true, force: true });
});

beforeEach(async () => {
  fakeDir = await mkdtemp(join(work, "fake-"));
  stateDir = join(fakeDir, "state");
  inventoryFile = join(fakeDir, "cluster.toml");
  await writeFile(inventoryFile, faultsInventory(fakeDir));
  await writeFile(join(fakeDir, "macs"), HOSTS.map((h) => `${h.name} ${h.mac}\n`).join(""));
  await ensureLabKeys(await loadInventory(inventoryFile), secretsDir);
});

function startInstall(firstBootTimeoutSeconds = 60) {
  const [file, args] = server.argv("node", [
    CLI,
    "install",
    "--inventory",
    inventoryFile,
    "--state",
    stateDir,
    "--installer",
    installerDir,
    "--secrets-dir",
    secretsDir,
    "--http-port",
    String(HTTP_PORT),
    "--wake-interval",
    "1",
    "--retry-delay",
    "0.2",
    "--first-boot-timeout",
    String(firstBootTimeoutSeconds),
    "--dashboard",
    `127.0.0.1:${DASHBOARD_PORT}`,
  ]);
  return execa(file, args, { reject: false, all: true, encoding: "utf8" });
}

const serverUrl = `10.77.0.${SERVER_OCTET}:${HTTP_PORT}`;

async function callBackAll(): Promise<void> {
  await Promise.all(
    HOSTS.map(async (host) => {
      const token = await fetchInstallerToken(agent, serverUrl, host.mac);
      expect(await postInstallerFacts(agent, serverUrl, token, host.mac)).toBe(200);
    }),
  );
}

async function invocations(): Promise<Record<string, number>> {
  const lines = (await readFile(join(fakeDir, "invocations"), "utf8").catch(() => ""))
    .split("\n")
    .filter(Boolean);
  return Object.fromEntries(HOSTS.map((h) => [h.name, lines.filter((l) => l === h.name).length]));
}

async function state(): Promise<ClusterState> {
  return readStateFile(join(stateDir, "state.json"));
}

async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("metal install under faults", () => {
  it(
    "retries a host whose install fails once, fails a host whose install always fails, finishes the others, and exits 1 naming the failed host; a forged callback is refused",
    async () => {
      await writeFile(join(fakeDir, "fail-once"), "node1\n");
      await writeFile(join(fakeDir, "fail-always"), "node2\n");
      const run = startInstall();
      const forgedToken = "mt1.forgedforgedforgedforgedforgedforgedforg";
      await fetchInstallerToken(agent, serverUrl, HOSTS[0]!.mac);
      expect(await postInstallerFacts(agent, serverUrl, forgedToken, HOSTS[0]!.mac)).toBe(401);
      expect((await state()).hosts.node1?.phase).toBe("pxe");
      const dashboard = (path: string) =>
        server.run("curl", ["-sf", `http://127.0.0.1:${DASHBOARD_PORT}/${path}`]);
      const snapshot = JSON.parse(String((await dashboard("api/snapshot")).stdout)) as {
        hosts: Array<{ name: string; phase: string; timeline: Array<{ text: string }> }>;
      };
      const node1 = snapshot.hosts.find((host) => host.name === "node1");
      expect(node1?.phase).toBe("pxe");
      expect(node1?.timeline.map((entry) => entry.text)).toContain(
        "iPXE script for 10.77.0.50: boot the kernel",
      );
      expect(String((await dashboard("metrics")).stdout)).toMatch(
        /^metal_http_scripts_total\{action="boot"\} [1-9]/m,
      );
      await callBackAll();
      const result = await run;

      expect(result.exitCode, result.all).toBe(1);
      expect(await invocations()).toEqual({ node1: 2, node2: 2, node3: 1 });
      const hosts = (await state()).hosts;
      expect([hosts.node1?.phase, hosts.node2?.phase, hosts.node3?.phase]).toEqual([
        "ready",
        "failed",
        "ready",
      ]);
      expect(result.all).toMatch(/^node2\s+failed\s+1\s/m);
      expect(result.all).toContain("node2 failed in phase installing");
      expect(result.all).toContain("| fatal: cannot partition (always)");
      expect(result.all).toContain("not ready: node2;");
    },
    RUN_TIMEOUT_MS * 2,
  );

  it(
    "resumes after SIGKILL mid-install: the interrupted host is installed again, finished hosts are not, and a rerun then exits 0 at once",
    async () => {
      await writeFile(join(fakeDir, "hold"), "node1\n");
      // The installer's sshd, which the restarted run probes before installing again.
      const [file, args] = agent.argv("node", [
        "-e",
        "require('net').createServer((s) => s.end()).listen(22)",
      ]);
      sshStandIn = execa(file, args, { reject: false });
      const first = startInstall();
      await callBackAll();
      await until("node2 and node3 ready, node1 installing", async () => {
        const hosts = (await state()).hosts;
        return (
          hosts.node1?.phase === "installing" &&
          hosts.node2?.phase === "ready" &&
          hosts.node3?.phase === "ready" &&
          (await readFile(join(fakeDir, "pid-node1"), "utf8").catch(() => "")) !== ""
        );
      });
      first.kill("SIGKILL");
      await first;
      process.kill(Number(await readFile(join(fakeDir, "pid-node1"), "utf8")), "SIGKILL");
      expect((await state()).hosts.node1?.phase).toBe("installing");

      await writeFile(join(fakeDir, "release-node1"), "");
      const second = await startInstall();
      expect(second.exitCode, second.all).toBe(0);
      expect(await invocations()).toEqual({ node1: 2, node2: 1, node3: 1 });
      expect((await state()).hosts.node1).toMatchObject({ phase: "ready", attempt: 1 });

      const third = await startInstall();
      expect(third.exitCode, third.all).toBe(0);
      expect(third.all).toContain("all 3 hosts ready");
      expect(await invocations()).toEqual({ node1: 2, node2: 1, node3: 1 });
    },
    RUN_TIMEOUT_MS * 3,
  );

  it(
    "stops cleanly on SIGTERM: installs killed, servers closed, exit 130 with the summary, and the state resumes",
    async () => {
      await writeFile(join(fakeDir, "hold"), "node1\n");
      const run = startInstall();
      await callBackAll();
      await until(
        "node1 installing",
        async () => (await readFile(join(fakeDir, "pid-node1"), "utf8").catch(() => "")) !== "",
      );
      run.kill("SIGTERM");
      const result = await run;
      expect(result.exitCode, result.all).toBe(130);
      expect(result.all).toContain("interrupted:");
      expect(result.all).toContain("run metal install again to resume");
      expect((await state()).hosts.node1?.phase).toBe("installing");
    },
    RUN_TIMEOUT_MS * 2,
  );

  it(
    "fails a host whose installed system never calls back once the first-boot timeout passes",
    async () => {
      await writeFile(join(fakeDir, "no-first-boot"), "node3\n");
      const run = startInstall(3);
      await callBackAll();
      const result = await run;
      expect(result.exitCode, result.all).toBe(1);
      expect((await state()).hosts.node3).toMatchObject({
        phase: "failed",
        failure: { phase: "installed" },
      });
      expect(result.all).toContain("node3 failed in phase installed");
      expect(result.all).toContain("did not call back");
      expect(await invocations()).toEqual({ node1: 1, node2: 1, node3: 1 });
    },
    RUN_TIMEOUT_MS,
  );
});
