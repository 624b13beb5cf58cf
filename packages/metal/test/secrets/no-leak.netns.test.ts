/**
 * No secret travels over PXE/HTTP (issue 5): the real `metal install` (dist/cli.js) serves a
 * two-host inventory whose keys and k3s secrets `metal secrets init` really generated, inside a
 * network namespace. From another namespace the test plays the machines: it fetches every URL
 * the server serves (iPXE scripts of an installable and an installed host, every URL in them,
 * every first-stage binary over HTTP and TFTP, the callback API with good and bad tokens, every
 * parameterless route, a 404) and finds no private key, age identity, k3s secret or first-boot
 * token in any body or header. The routes come from the server itself (a preloaded recorder of
 * fastify's route table), so a new route nobody probes fails the test instead of going unseen.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { VirtualNetwork, type NetHost } from "lab";
import { DEBIAN_IPXE_DIR } from "netboot";
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

const CLI = new URL("../../dist/cli.js", import.meta.url).pathname;
const ROUTE_RECORDER = new URL("./support/route-recorder.mjs", import.meta.url).pathname;
const RECORDING_INSTALL = new URL("./support/recording-install.sh", import.meta.url).pathname;
const HTTP_PORT = 8080;
const SERVER_OCTET = 2;
const MACHINE_OCTET = 50;
const SERVER = `10.77.0.${SERVER_OCTET}`;
const ORIGIN = `http://${SERVER}:${HTTP_PORT}`;
const TEST_TIMEOUT_MS = 240_000;
const WAIT_TIMEOUT_MS = 90_000;
const POLL_MS = 200;
/** Long enough for a first-stage binary; an event stream is cut off after this and scanned. */
const PROBE_SECONDS = 10;
const GIB = 1024 ** 3;
const PRIVATE_FILE_MODE = "600";
/** `metal install` stopped by SIGTERM with one host still waiting (docs/install.md). */
const EXIT_INTERRUPTED = 130;
const HOSTS = [
  { name: "node1", mac: "52:54:00:78:00:01", ip: "10.77.0.11" },
  { name: "node2", mac: "52:54:00:78:00:02", ip: "10.77.0.12" },
] as const;
const [INSTALLED, INSTALLABLE] = HOSTS;
const UNKNOWN_MAC = "52:54:00:78:00:99";

function inventoryToml(recordDir: string): string {
  const hosts = HOSTS.map(
    (host, index) => `
[[hosts]]
name = "${host.name}"
mac = "${host.mac}"
ip = "${host.ip}/24"
role = "${index === 0 ? "server" : "agent"}"
${index === 0 ? "init = true" : ""}
disk = "/dev/vda"`,
  ).join("\n");
  return `
[cluster]
name = "noleak"
domain = "noleak.home.arpa"
flake = "."

[network]
interface = "eth0"
subnet = "10.77.0.0/24"
gateway = "10.77.0.1"
dns = ["10.77.0.1"]
vip = "10.77.0.10"

[install]
root_size = "1G"
parallel = 2
retries = 0
command = ["sh", "${RECORDING_INSTALL}", "${recordDir}", "{host}", "{extra_files}"]
${hosts}
`;
}

/** One response as the machine saw it: status line, headers and body. */
interface Probe {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly response: string;
}

interface Route {
  readonly methods: readonly string[];
  readonly url: string;
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
  await writeFile(inventoryFile, inventoryToml(recordDir));
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

/** Fetches `url` from the machine's namespace; the response is read as bytes, scanned as text. */
async function fetchFromMachine(
  method: string,
  url: string,
  request: { token?: string; body?: string } = {},
): Promise<Probe> {
  const args = ["-sS", "-i", "--max-time", String(PROBE_SECONDS)];
  args.push(...(method === "HEAD" ? ["-I"] : ["-X", method]));
  if (request.token !== undefined) args.push("-H", `Authorization: Bearer ${request.token}`);
  if (request.body !== undefined)
    args.push("-H", "Content-Type: application/json", "--data-binary", request.body);
  const result = await machine.run("curl", [...args, url], { reject: false, encoding: "buffer" });
  const response = Buffer.from(result.stdout as Uint8Array).toString("latin1");
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(response)?.[1] ?? 0);
  return { method, url, status, response };
}

/** A first stage over TFTP, as PXE firmware loads it. */
async function tftpFromMachine(name: string): Promise<Probe> {
  const url = `tftp://${SERVER}/${name}`;
  const result = await machine.run("curl", ["-sS", "--max-time", "60", url], {
    reject: false,
    encoding: "buffer",
  });
  const response = Buffer.from(result.stdout as Uint8Array).toString("latin1");
  return { method: "TFTP", url, status: result.exitCode === 0 ? 200 : 0, response };
}

/** Absolute URLs on this server named anywhere in `text` (scripts, events, pages). */
function serverUrls(text: string): string[] {
  return [...text.matchAll(/https?:\/\/[^\s"'<>`()]+/g)]
    .map((match) => match[0].replace(/[.,;:]+$/, ""))
    .filter((url) => url.startsWith(ORIGIN));
}

/** fastify's `/files/:id/:name` as a pattern for request paths. */
function routePattern(url: string): RegExp {
  const escaped = url
    .split("/")
    .map((part) =>
      part.startsWith(":")
        ? "[^/]+"
        : part === "*"
          ? ".*"
          : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("/");
  return new RegExp(`^${escaped}/?$`);
}

async function recordedRoutes(): Promise<Route[]> {
  return ((await readText(routeLog)) ?? "")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Route);
}

/** Every secret a response must never carry, by a name the failure can show. */
async function secretsToLookFor(): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  for (const [index, marker] of (await leakMarkers(ws.secretsDir)).entries()) {
    const header = (PRIVATE_MATERIAL_HEADERS as readonly string[]).includes(marker);
    secrets.set(header ? `header "${marker}"` : `key seed or age identity #${index}`, marker);
  }
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

function leaksIn(probes: readonly Probe[], secrets: Map<string, string>): string[] {
  return probes.flatMap((probe) =>
    [...secrets]
      .filter(([, value]) => probe.response.includes(value))
      .map(([name]) => `${probe.method} ${probe.url} carries the ${name}`),
  );
}

describe("what metal install serves to the network", () => {
  it(
    "carries no private key, age identity, k3s secret or first-boot token in any response of any route, and the extra-files tree is private and removed after the install",
    async () => {
      const init = await execa(
        "node",
        [CLI, "secrets", "init", "--inventory", inventoryFile, "--secrets-dir", ws.secretsDir],
        { env: ws.envWithSops, reject: false, all: true },
      );
      expect(init.exitCode, init.all).toBe(0);

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
        "--wake-interval",
        "1",
        "--first-boot-timeout",
        "120",
      ]);
      install = execa(file, args, {
        env: { ...process.env, METAL_ROUTE_LOG: routeLog },
        reject: false,
        all: true,
        encoding: "utf8",
      });

      const probes: Probe[] = [];
      const seen = new Set<string>();
      const probe = async (
        method: string,
        url: string,
        request?: { token?: string; body?: string },
      ) => {
        const result = await fetchFromMachine(method, url, request);
        probes.push(result);
        return result;
      };
      /** GET and HEAD of `url` and of every URL on this server its body names, recursively. */
      const crawl = async (url: string) => {
        if (seen.has(url)) return;
        seen.add(url);
        const got = await probe("GET", url);
        await probe("HEAD", url);
        for (const named of serverUrls(got.response)) await crawl(named);
      };
      const script = (mac: string) => `${ORIGIN}/boot/${mac}.ipxe`;

      await until("the installable host's iPXE script", async () =>
        (await fetchFromMachine("GET", script(INSTALLED.mac))).status === 200 ? true : undefined,
      );
      for (const host of HOSTS) await crawl(script(host.mac));
      // The script fetched last mints the installer token that counts (callback-protocol §4).
      const latest = (await probe("GET", script(INSTALLED.mac))).response;
      const callback = /metal\.callback=(\S+)/.exec(latest)?.[1];
      const freshToken = /metal\.token=(\S+)/.exec(latest)?.[1];
      expect(callback, latest).toBe(`${ORIGIN}/callback/v1`);
      expect(freshToken, latest).toBeDefined();

      const facts = JSON.stringify({
        agent: "leak-test/1",
        mac: INSTALLED.mac,
        ip: machine.address,
        sshHostKey: FAKE_INSTALLER_KEY,
        firmware: "bios",
        memoryBytes: GIB,
        disks: [{ name: "vda", path: "/dev/vda", sizeBytes: 8 * GIB }],
      });
      const forged = "mt1.forgedforgedforgedforgedforgedforgedforg";
      expect((await probe("POST", `${callback}/installer`, { body: facts })).status).toBe(401);
      expect(
        (await probe("POST", `${callback}/installer`, { token: forged, body: facts })).status,
      ).toBe(401);
      expect(
        (await probe("POST", `${callback}/installer`, { token: freshToken!, body: "{}" })).status,
      ).toBe(400);
      const accepted = await probe("POST", `${callback}/installer`, {
        token: freshToken!,
        body: facts,
      });
      expect(accepted.status, accepted.response).toBe(200);

      const firstBootToken = await until("the install command's run", async () =>
        (await readText(join(recordDir, `first-boot-token-${INSTALLED.name}`)))?.trim(),
      );
      const firstBoot = JSON.stringify({
        agent: "leak-test/1",
        mac: INSTALLED.mac,
        ip: INSTALLED.ip,
        sshHostKey: (
          await readFile(privatePaths(ws.secretsDir).hostPublicKey(INSTALLED.name), "utf8")
        ).trim(),
      });
      expect(
        (await probe("POST", `${callback}/first-boot`, { token: forged, body: firstBoot })).status,
      ).toBe(401);
      await until("the first-boot callback accepted", async () => {
        const answer = await probe("POST", `${callback}/first-boot`, {
          token: firstBootToken,
          body: firstBoot,
        });
        return answer.status === 200 ? answer : undefined;
      });
      await until("the installed host ready", async () => {
        const state = await readStateFile(join(ws.repo, ".metal", "state.json"));
        return state.hosts[INSTALLED.name]?.phase === "ready" ? true : undefined;
      });
      const installedScript = await probe("GET", script(INSTALLED.mac));
      expect(installedScript.response).toMatch(/^exit\b/m);
      expect(installedScript.response).not.toContain("metal.token=");
      const installableScript = await probe("GET", script(INSTALLABLE.mac));
      expect(installableScript.response).toContain("metal.token=");

      expect((await probe("GET", script(UNKNOWN_MAC))).status).toBe(404);
      expect((await probe("GET", `${ORIGIN}/boot/not-a-mac.ipxe`)).status).toBe(400);
      expect((await probe("GET", `${ORIGIN}/no/such/route`)).status).toBe(404);
      expect((await probe("GET", `${ORIGIN}/ipxe/..%2f..%2fetc%2fpasswd`)).status).toBe(404);

      const firstStages = (await readdir(DEBIAN_IPXE_DIR, { withFileTypes: true }))
        .filter((entry) => !entry.isDirectory())
        .map((entry) => entry.name);
      const tftp: Probe[] = [];
      for (const name of firstStages) {
        await crawl(`${ORIGIN}/ipxe/${name}`);
        tftp.push(await tftpFromMachine(name));
      }
      expect(tftp.filter((got) => got.status === 200).length).toBeGreaterThan(0);

      const routes = await recordedRoutes();
      for (const route of routes.filter((r) => !/[:*]/.test(r.url))) {
        for (const method of route.methods) await probe(method, `${ORIGIN}${route.url}`);
      }

      const eventLog = await readFile(join(ws.repo, ".metal", "logs", "install.jsonl"), "utf8");
      for (const url of serverUrls(eventLog)) await crawl(url);

      install.kill("SIGTERM");
      const run = await install;
      install = undefined;
      expect(run.exitCode, run.all).toBe(EXIT_INTERRUPTED);

      expect(
        probes.filter((got) => got.status === 0).map((got) => `${got.method} ${got.url}`),
        "requests that got no HTTP answer",
      ).toEqual([]);
      const unprobed = routes.flatMap((route) =>
        route.methods
          .filter(
            (method) =>
              !probes.some(
                (got) =>
                  got.method === method && routePattern(route.url).test(new URL(got.url).pathname),
              ),
          )
          .map((method) => `${method} ${route.url}`),
      );
      expect(unprobed, "routes the server serves that this test never requested").toEqual([]);

      const secrets = await secretsToLookFor();
      expect([...secrets.keys()].filter((name) => name.startsWith("k3s_")).length).toBe(
        1 + HOSTS.length,
      );
      expect(secrets.has(`first-boot token of ${INSTALLED.name}`)).toBe(true);
      expect(leaksIn([...probes, ...tftp], secrets)).toEqual([]);
      expect(
        leaksIn([{ method: "CLI", url: "output", status: 0, response: run.all }], secrets),
      ).toEqual([]);
      expect(await filesContaining(ws.repo, [...secrets.values()])).toEqual([]);

      const extraFiles = (await readText(join(recordDir, `extra-files-${INSTALLED.name}`)))!.trim();
      expect(await readText(join(recordDir, `key-mode-${INSTALLED.name}`))).toBe(
        `${PRIVATE_FILE_MODE}\n`,
      );
      expect(await stat(extraFiles).catch(() => undefined)).toBeUndefined();
      expect(await stat(join(extraFiles, "..")).catch(() => undefined)).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );
});
