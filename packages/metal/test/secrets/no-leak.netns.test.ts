/**
 * No secret travels over PXE/HTTP (issue 5): the real `metal install` (dist/cli.js) serves a
 * two-host inventory whose keys and k3s secrets `metal secrets init` really generated, inside a
 * network namespace. From another namespace the test plays the machines: it asks DHCP (port 67
 * and the PXE boot server on 4011) as each kind of firmware, follows what the answers name (TFTP first stages, HTTP first stages, iPXE
 * scripts) and every URL those name, fetches every first stage over HTTP and TFTP, the scripts of
 * an installable and an installed host, the callback API with good and bad tokens, the
 * dashboard (page, live feed, snapshot, /metrics) exposed on the same address, every
 * parameterless route, URLs in the server's own event log and some 404s, and finds no private
 * key, age identity, k3s secret or first-boot token in any answer (headers included). The routes
 * come from the server itself (a preloaded recorder of fastify's route table), so a route that
 * no probe requested fails the test instead of going unseen.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { VirtualNetwork, type NetHost } from "metal-lab";
import { DEBIAN_FIRST_STAGE_FILES, DEBIAN_IPXE_DIR } from "netboot";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  filesContaining,
  leakMarkers,
  PRIVATE_MATERIAL_HEADERS,
} from "../../src/secrets/leak-markers.js";
import { privatePaths } from "../../src/secrets/layout.js";
import { readStateFile } from "../../src/state/file-store.js";
import { FAKE_INSTALLER_KEY } from "../install/support/fake-agent.js";
import { sopsCalls, workspace, type Workspace } from "./helpers.js";
import { leaksIn, MachineSide, servedRoutes, urlsOn } from "./support/machine-side.js";
import { inventoryToml } from "../helpers/inventory-toml.js";

const CLI = new URL("../../dist/cli.js", import.meta.url).pathname;
const ROUTE_RECORDER = new URL("./support/route-recorder.mjs", import.meta.url).pathname;
const RECORDING_INSTALL = new URL("./support/recording-install.sh", import.meta.url).pathname;
const HTTP_PORT = 8080;
const SERVER_OCTET = 2;
const MACHINE_OCTET = 50;
const SERVER = `10.77.0.${SERVER_OCTET}`;
const ORIGIN = `http://${SERVER}:${HTTP_PORT}`;
/** The dashboard on the PXE network's address: the widest it can be exposed. */
const DASHBOARD_PORT = 8090;
const DASHBOARD = `http://${SERVER}:${DASHBOARD_PORT}`;
const TEST_TIMEOUT_MS = 240_000;
const WAIT_TIMEOUT_MS = 90_000;
const POLL_MS = 200;
const GIB = 1024 ** 3;
const PRIVATE_FILE_MODE = "600";
/** `metal install` stopped by SIGTERM with one host still waiting (docs/install.md). */
const EXIT_INTERRUPTED = 130;
const CURL_HTTP_ERROR = 22;
const DHCP_CLIENTS = ["bios-pxe", "ipxe", "uefi-http", "uefi-pxe"]
  .flatMap((client) => [`${client}@67`, `${client}@4011`])
  .sort();
const HOSTS = [
  { name: "node1", mac: "52:54:00:78:00:01", ip: "10.77.0.11" },
  { name: "node2", mac: "52:54:00:78:00:02", ip: "10.77.0.12" },
] as const;
/** node1 goes through the whole install; node2 stays installable. */
const [INSTALLED, INSTALLABLE] = HOSTS;
const UNKNOWN_MAC = "52:54:00:78:00:99";
const FORGED_TOKEN = "mt1.forgedforgedforgedforgedforgedforgedforg";

function noLeakInventory(recordDir: string): string {
  return inventoryToml({
    cluster: "noleak",
    hosts: HOSTS,
    servers: 1,
    parallel: 2,
    retries: 0,
    command: ["sh", RECORDING_INSTALL, recordDir, "{host}", "{extra_files}"],
  });
}

let network: VirtualNetwork;
let server: NetHost;
let machine: NetHost;
let ws: Workspace;
let recordDir: string;
let installerDir: string;
let inventoryFile: string;
let routeLog: string;
let install: ResultPromise<{ all: true; encoding: "utf8"; reject: false }> | undefined;

beforeAll(async () => {
  network = await VirtualNetwork.create();
  server = await network.addHost("srv", SERVER_OCTET);
  machine = await network.addHost("pxe", MACHINE_OCTET);
  ws = await workspace();
  recordDir = await mkdtemp(join(tmpdir(), "metal-no-leak-record-"));
  installerDir = join(ws.root, "installer");
  await mkdir(installerDir);
  await writeFile(join(installerDir, "bzImage"), "kernel");
  await writeFile(join(installerDir, "initrd"), "initrd");
  await writeFile(join(installerDir, "cmdline"), "console=ttyS0");
  inventoryFile = join(ws.repo, "cluster.toml");
  await writeFile(inventoryFile, noLeakInventory(recordDir));
  routeLog = join(ws.root, "routes.jsonl");
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  install?.kill("SIGKILL");
  await network?.destroy();
  await ws?.dispose();
  if (recordDir) await rm(recordDir, { recursive: true, force: true });
});

async function until<T>(what: string, value: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  for (;;) {
    const result = await value();
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

const readText = (file: string) => readFile(file, "utf8").catch(() => undefined);
const script = (mac: string) => `${ORIGIN}/boot/${mac}.ipxe`;

async function generateSecrets(): Promise<void> {
  const init = await execa(
    "node",
    [CLI, "secrets", "init", "--inventory", inventoryFile, "--secrets-dir", ws.secretsDir],
    { env: ws.envWithSops, reject: false, all: true },
  );
  expect(init.exitCode, init.all).toBe(0);
}

/** The real CLI in the server's namespace, with the route recorder preloaded. */
function startInstall() {
  const [file, args] = server.argv("node", [
    "--import",
    ROUTE_RECORDER,
    CLI,
    "install",
    "--json",
    "--inventory",
    inventoryFile,
    "--installer",
    installerDir,
    "--secrets-dir",
    ws.secretsDir,
    "--http-port",
    String(HTTP_PORT),
    "--dashboard",
    `${SERVER}:${DASHBOARD_PORT}`,
    "--wake-interval",
    "1",
    "--first-boot-timeout",
    "120",
  ]);
  return execa(file, args, {
    env: { ...process.env, METAL_ROUTE_LOG: routeLog },
    reject: false,
    all: true,
    encoding: "utf8",
  });
}

/** Asks DHCP as every kind of firmware and fetches whatever the answers name. */
async function followDhcp(side: MachineSide, mac: string): Promise<void> {
  const answers = await side.dhcp(mac);
  expect(answers.map((answer) => answer.client).sort()).toEqual(DHCP_CLIENTS);
  for (const client of ["ipxe@67", "ipxe@4011"])
    expect(answers.find((answer) => answer.client === client)?.bootFile).toBe(script(mac));
  for (const bootFile of new Set(answers.map((answer) => answer.bootFile))) {
    if (bootFile.startsWith("http")) await side.crawl(bootFile);
    else expect((await side.tftp(bootFile)).status, bootFile).toBe(200);
  }
}

/**
 * node1's installer and installed system call back, each first with missing, forged or
 * malformed requests; the install command (recording-install.sh) runs in between.
 */
async function installThroughCallbacks(side: MachineSide): Promise<void> {
  // The script fetched last mints the installer token that counts (callback-protocol §4).
  const latest = (await side.http("GET", script(INSTALLED.mac))).response;
  const callback = /metal\.callback=(\S+)/.exec(latest)?.[1];
  const installerToken = /metal\.token=(\S+)/.exec(latest)?.[1] ?? "";
  expect(callback, latest).toBe(`${ORIGIN}/callback/v1`);
  expect(installerToken, latest).not.toBe("");
  const facts = JSON.stringify({
    agent: "leak-test/1",
    mac: INSTALLED.mac,
    ip: machine.address,
    sshHostKey: FAKE_INSTALLER_KEY,
    firmware: "bios",
    memoryBytes: GIB,
    disks: [{ name: "vda", path: "/dev/vda", sizeBytes: 8 * GIB }],
  });
  const installer = `${callback}/installer`;
  expect((await side.http("POST", installer, { body: facts })).status).toBe(401);
  expect((await side.http("POST", installer, { token: FORGED_TOKEN, body: facts })).status).toBe(
    401,
  );
  expect((await side.http("POST", installer, { token: installerToken, body: "{}" })).status).toBe(
    400,
  );
  const accepted = await side.http("POST", installer, { token: installerToken, body: facts });
  expect(accepted.status, accepted.response).toBe(200);

  const firstBootToken = await until("the install command's run", async () =>
    (await readText(join(recordDir, `first-boot-token-${INSTALLED.name}`)))?.trim(),
  );
  const hostKey = await readFile(privatePaths(ws.secretsDir).hostPublicKey(INSTALLED.name), "utf8");
  const report = JSON.stringify({
    agent: "leak-test/1",
    mac: INSTALLED.mac,
    ip: INSTALLED.ip,
    sshHostKey: hostKey.trim(),
  });
  const firstBoot = `${callback}/first-boot`;
  expect((await side.http("POST", firstBoot, { token: FORGED_TOKEN, body: report })).status).toBe(
    401,
  );
  // 503 until metal has seen the install command finish (callback-protocol §3).
  await until("the first-boot callback accepted", async () => {
    const answer = await side.http("POST", firstBoot, { token: firstBootToken, body: report });
    return answer.status === 200 ? answer : undefined;
  });
  await until("node1 ready", async () => {
    const state = await readStateFile(join(ws.repo, ".metal", "state.json"));
    return state.hosts[INSTALLED.name]?.phase === "ready" ? true : undefined;
  });
}

/** Every secret an answer must never carry, by a name a failure can show. */
async function secretsToLookFor(): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  for (const [index, marker] of (await leakMarkers(ws.secretsDir)).entries()) {
    const header = (PRIVATE_MATERIAL_HEADERS as readonly string[]).includes(marker);
    secrets.set(header ? `header "${marker}"` : `key seed or age identity #${index}`, marker);
  }
  // The fake sops logs what it was asked to encrypt: the k3s token and node passwords in clear.
  for (const call of await sopsCalls(ws.sopsLog)) {
    const plain = parse(call.stdin ?? "") as Record<string, string> | null;
    const file = call.argv[call.argv.indexOf("--filename-override") + 1];
    for (const [key, value] of Object.entries(plain ?? {}))
      secrets.set(`${key} sent to sops for ${file}`, value);
  }
  for (const host of HOSTS) {
    const token = (await readText(join(recordDir, `first-boot-token-${host.name}`)))?.trim();
    if (token) secrets.set(`first-boot token of ${host.name}`, token);
  }
  return secrets;
}

describe("what metal install serves to the network", () => {
  it(
    "carries no private key, age identity, k3s secret or first-boot token in any answer of any route, DHCP or TFTP, and the extra-files tree is private and removed after the install",
    async () => {
      await generateSecrets();
      install = startInstall();
      const side = new MachineSide(machine, SERVER);
      await until("the server up", async () => {
        const result = await machine.run("curl", ["-sf", "-o", "/dev/null", ORIGIN], {
          reject: false,
        });
        // curl's 22: the server answered, with an HTTP error (no route at /).
        return result.exitCode === CURL_HTTP_ERROR ? true : undefined;
      });

      for (const host of HOSTS) await followDhcp(side, host.mac);
      await installThroughCallbacks(side);
      const installedScript = await side.http("GET", script(INSTALLED.mac));
      expect(installedScript.response).toMatch(/^exit\b/m);
      expect(installedScript.response).not.toContain("metal.token=");
      expect((await side.http("GET", script(INSTALLABLE.mac))).response).toContain("metal.token=");
      expect((await side.http("GET", script(UNKNOWN_MAC))).status).toBe(404);
      expect((await side.http("GET", `${ORIGIN}/boot/not-a-mac.ipxe`)).status).toBe(400);
      expect((await side.http("GET", `${ORIGIN}/no/such/route`)).status).toBe(404);
      expect((await side.http("GET", `${ORIGIN}/ipxe/..%2f..%2fetc%2fpasswd`)).status).toBe(404);

      // The server stages only the named first stages (ADR 0160): each is served both ways, and
      // no other file of the first-stage directory is served at all.
      for (const entry of await readdir(DEBIAN_IPXE_DIR, { withFileTypes: true })) {
        if (entry.isDirectory()) continue;
        await side.crawl(`${ORIGIN}/ipxe/${entry.name}`);
        const served = DEBIAN_FIRST_STAGE_FILES.includes(entry.name);
        expect((await side.tftp(entry.name)).status === 200, entry.name).toBe(served);
      }
      const routes = await servedRoutes(routeLog, SERVER);
      expect(new Set(routes.map((route) => route.origin))).toEqual(new Set([ORIGIN, DASHBOARD]));
      for (const route of routes.filter((r) => !/[:*]/.test(r.url)))
        for (const method of route.methods) await side.http(method, `${route.origin}${route.url}`);
      // After node1's install: the dashboard's host logs carry the install command's output.
      const got = (url: string) =>
        side.probes.find((probe) => probe.method === "GET" && probe.url === url)?.response;
      expect(got(`${DASHBOARD}/events`)).toContain("event: snapshot");
      expect(got(`${DASHBOARD}/api/snapshot`)).toContain(`"${INSTALLED.name}"`);
      expect(got(`${DASHBOARD}/metrics`)).toContain("metal_");
      const eventLog = await readFile(join(ws.repo, ".metal", "logs", "install.jsonl"), "utf8");
      for (const url of urlsOn(SERVER, eventLog)) await side.crawl(url);

      install.kill("SIGTERM");
      const run = await install;
      install = undefined;
      expect(run.exitCode, run.all).toBe(EXIT_INTERRUPTED);

      const unanswered = side.probes.filter((got) => got.status === 0);
      expect(
        unanswered.map((got) => `${got.method} ${got.url}`),
        "no answer",
      ).toEqual([]);
      const secrets = await secretsToLookFor();
      expect([...secrets.keys()].filter((name) => name.startsWith("k3s_"))).toHaveLength(
        1 + HOSTS.length,
      );
      expect(secrets.has(`first-boot token of ${INSTALLED.name}`)).toBe(true);
      expect(leaksIn(side.probes, secrets)).toEqual([]);
      expect(side.unprobed(routes), "served routes this test never requested").toEqual([]);
      const output = { method: "metal install", url: "output", status: 0, response: run.all };
      expect(leaksIn([output], secrets)).toEqual([]);
      expect(await filesContaining(ws.repo, [...secrets.values()])).toEqual([]);

      const extraFiles = (await readText(join(recordDir, `extra-files-${INSTALLED.name}`)))?.trim();
      expect(extraFiles).toBeDefined();
      expect(await readText(join(recordDir, `key-mode-${INSTALLED.name}`))).toBe(
        `${PRIVATE_FILE_MODE}\n`,
      );
      expect(await stat(extraFiles!).catch(() => undefined)).toBeUndefined();
      expect(await stat(join(extraFiles!, "..")).catch(() => undefined)).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );
});
