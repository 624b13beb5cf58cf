/**
 * `netboot serve` under attack from a second machine on its LAN (issue 11 items 4, 5 and 7, issue
 * 12 item 4): the real CLI in its own namespace, bound to 67/69/4011 and HTTP 8080 there, an
 * attacker namespace sending what test/support/attacker.entry.ts sends, and a genuine client
 * that must still get its files. Every attack is bounded and ends by itself.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onLines } from "../../lab/src/lines.js";
import { VirtualNetwork, type NetHost } from "../../lab/src/netns.js";
import { readCapture } from "./dhcp/fixtures.js";
import { encodeTftp } from "../src/tftp/encode.js";
import { DhcpPort } from "../src/dhcp/constants.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, "../dist/cli.js");
const TSX = path.resolve(here, "../../../node_modules/.bin/tsx");
const ATTACKER = path.join(here, "support/attacker.entry.ts");
const SUBNET = "10.78.11";
/** The attacker's datagrams from this port leave with UDP source port 0 (an nftables rule). */
const PORT_ZERO_SOURCE = 40_000;
const HTTP_PORT = 8080;
const MAC = "52:54:00:66:00:01";
/** Far above what the attacker's small TCP windows and the server's send buffers absorb. */
const INITRD_BYTES = 64 * 1024 * 1024;
const SECRET = "secret outside the first-stage directory";
const CLIENT_TIMEOUT_MS = 60_000;
/** The defaults of http/limits.ts, plus the 1 s of Node's connection checks and slack. */
const REQUEST_CUT_WITHIN_MS = 30_000 + 5_000;
const HEADERS_CUT_WITHIN_MS = 10_000 + 5_000;
const WRITE_CUT_WITHIN_MS = 30_000 + 10_000;
/** tsx starting an attack takes seconds on a loaded machine. */
const ATTACKER_START_MS = 60_000;
const UNREAD_DOWNLOADS = 200;
/** The attacker holds its downloads this much longer than the server may take to cut them. */
const HOLD_SLACK_MS = 5_000;
/** DEFAULT_HTTP_LIMITS.maxConnectionsPerAddress. */
const MAX_CONNECTIONS_PER_ADDRESS = 16;
/** An ERROR reply is a few dozen bytes (fixed texts). */
const MAX_ERROR_REPLY_BYTES = 64;

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

interface LoggedLine {
  readonly msg: string;
  readonly event?: { readonly type: string } & Record<string, unknown>;
}

let base: string;
let ipxeDir: string;
let network: VirtualNetwork;
let serverHost: NetHost;
let attacker: NetHost;
/** A second attacker address: the first one's connections are all taken by its own flood. */
let attacker2: NetHost;
let client: NetHost;
let server: ResultPromise | undefined;
let exited: { exitCode?: number; stderr: unknown } | undefined;
const logged: LoggedLine[] = [];
let efiHash: string;

const events = () => logged.flatMap((line) => (line.event ? [line.event] : []));

/** Runs one attack in an attacker's namespace and returns its JSON report. */
async function attackFrom<T>(
  from: NetHost,
  name: string,
  ...args: Array<string | number>
): Promise<T> {
  const result = await from.run(TSX, [ATTACKER, name, serverHost.address, ...args.map(String)], {
    timeout: 180_000,
  });
  return JSON.parse(String(result.stdout).trim().split("\n").at(-1) ?? "null") as T;
}

const attack = <T>(name: string, ...args: Array<string | number>) =>
  attackFrom<T>(attacker, name, ...args);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function startServe(host: NetHost, dir: string, into: LoggedLine[]): ResultPromise {
  const [file, args] = host.argv(process.execPath, [
    CLI,
    "serve",
    "--interface",
    "eth0",
    "--kernel",
    path.join(base, "vmlinuz"),
    "--initrd",
    path.join(base, "initrd"),
    "--ipxe-dir",
    dir,
    "--http-port",
    String(HTTP_PORT),
    "--json",
    // Also the debug-level events (http.file.start) the assertions read.
    "--verbose",
  ]);
  const child = execa(file, args, { reject: false, stdin: "ignore", buffer: { stdout: false } });
  onLines(child.stdout, (line) => {
    if (line.startsWith("{")) into.push(JSON.parse(line) as LoggedLine);
  });
  return child;
}

function waitForServing(child: ResultPromise, from: LoggedLine[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (from.some((line) => line.msg.startsWith("serving on"))) {
        clearInterval(timer);
        resolve();
      }
    }, 100);
    void child.then((result) => {
      clearInterval(timer);
      reject(new Error(`netboot serve exited (${result.exitCode}): ${String(result.stderr)}`));
    });
  });
}

async function expectStillServing(): Promise<void> {
  expect(exited, `netboot serve exited: ${JSON.stringify(exited)}`).toBeUndefined();
  const local = path.join(base, `check-${Date.now()}.efi`);
  const result = await client.run(
    "tftp",
    ["-m", "binary", serverHost.address, "-c", "get", "ipxe.efi", local],
    { timeout: CLIENT_TIMEOUT_MS, reject: false },
  );
  expect(result.stderr).toBe("");
  expect(sha256(await readFile(local))).toBe(efiHash);
}

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "netboot-hostile-"));
  ipxeDir = path.join(base, "ipxe");
  await mkdir(ipxeDir);
  const efi = randomBytes(1024 * 1024 + 77);
  efiHash = sha256(efi);
  await writeFile(path.join(ipxeDir, "ipxe.efi"), efi);
  await writeFile(path.join(ipxeDir, "undionly.kpxe"), randomBytes(70_000));
  await writeFile(path.join(base, "secret.txt"), SECRET);
  // Not a first stage, and a link out of the directory: staging must leave it behind.
  await symlink(path.join(base, "secret.txt"), path.join(ipxeDir, "notes.txt"));
  await writeFile(path.join(base, "vmlinuz"), randomBytes(4096));
  await writeFile(path.join(base, "initrd"), "");
  await truncate(path.join(base, "initrd"), INITRD_BYTES);

  network = await VirtualNetwork.create({ subnet: SUBNET });
  serverHost = await network.addHost("srv", 1);
  attacker = await network.addHost("att", 2);
  client = await network.addHost("cli", 3);
  attacker2 = await network.addHost("att2", 5);
  // Small TCP windows on the attacker: an unread download stalls after a few hundred KiB.
  await attacker.run("sysctl", ["-qw", "net.ipv4.tcp_rmem=4096 16384 65536"]);
  // Datagrams from PORT_ZERO_SOURCE leave with UDP source port 0 (no socket API can bind 0);
  // untracked, so no connection tracking or NAT on this machine picks another port for them.
  await attacker.run("nft", ["-f", "-"], {
    input: `table ip portzero {
  chain out {
    type filter hook output priority raw; policy accept;
    udp sport ${PORT_ZERO_SOURCE} udp sport set 0 notrack
  }
}`,
  });

  // With br_netfilter loaded, bridged packets pass the lan namespace's conntrack, whose NAT gives
  // a source port 0 another port: leave them untracked there too.
  const [nft, nftArgs] = network.lanArgv("nft", ["-f", "-"]);
  await execa(nft, nftArgs, {
    input: `table ip portzero {
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    udp sport 0 notrack
  }
}`,
  });

  server = startServe(serverHost, ipxeDir, logged);
  void server.then((result) => (exited = { exitCode: result.exitCode, stderr: result.stderr }));
  await waitForServing(server, logged);
}, 120_000);

afterAll(async () => {
  server?.kill("SIGTERM");
  await server;
  await network?.destroy();
  await rm(base, { recursive: true, force: true });
});

describe("netboot serve under attack from the LAN", () => {
  it("survives datagrams from UDP source port 0 on TFTP and the PXE port, and keeps serving", async () => {
    const rrq = encodeTftp({ type: "RRQ", filename: "ipxe.efi", mode: "octet", options: [] });
    await attack("udp-port-zero", 69, rrq.toString("hex"), PORT_ZERO_SOURCE);
    const missing = encodeTftp({ type: "RRQ", filename: "none.efi", mode: "octet", options: [] });
    await attack("udp-port-zero", 69, missing.toString("hex"), PORT_ZERO_SOURCE);
    const pxeRequest = readCapture("ovmf-native-dnsmasq-proxy").find(
      (datagram) => datagram.destination.port === DhcpPort.pxeBootServer,
    );
    expect(pxeRequest).toBeDefined();
    await attack(
      "udp-port-zero",
      DhcpPort.pxeBootServer,
      pxeRequest?.payload.toString("hex") ?? "",
    );
    await expect
      .poll(() =>
        events().some((e) => e.type === "tftp.error" && /source port 0/.test(String(e.reason))),
      )
      .toBe(true);
    await expectStillServing();
  });

  it("gives 64 timeout=255 requests from one address at most their share; a genuine client still gets its file", async () => {
    const holding = attack<{ oack: number; busy: number; timeoutAcknowledged: number }>(
      "tftp-hold",
      64,
      20_000,
    );
    // Let the attacker's requests land first (it reports after 1.5 s and holds for 20 s).
    await sleep(2_500);
    const local = path.join(base, "genuine.efi");
    const fetched = await client.run(
      "atftp",
      ["-g", "-r", "ipxe.efi", "-l", local, "--option", "blksize 1468", serverHost.address, "69"],
      { timeout: CLIENT_TIMEOUT_MS, reject: false },
    );
    expect(fetched.exitCode).toBe(0);
    expect(sha256(await readFile(local))).toBe(efiHash);
    const held = await holding;
    expect(held.oack).toBeLessThanOrEqual(4);
    expect(held.busy).toBeGreaterThanOrEqual(60);
    expect(held.timeoutAcknowledged).toBe(0);
  });

  it("answers a 1409-byte hostile request with a reply of a few dozen bytes", async () => {
    const { request, reply } = await attack<{ request: number; reply: number }>("tftp-reflect");
    expect(request).toBe(1409);
    expect(reply).toBeGreaterThan(0);
    expect(reply).toBeLessThanOrEqual(MAX_ERROR_REPLY_BYTES);
  });

  it("serves no file of --ipxe-dir but its first stages, whatever links it holds", async () => {
    const local = path.join(base, "notes.txt");
    const tftp = await client.run(
      "tftp",
      ["-m", "binary", serverHost.address, "-c", "get", "notes.txt", local],
      { timeout: CLIENT_TIMEOUT_MS, reject: false },
    );
    expect(String(tftp.stdout) + String(tftp.stderr)).toMatch(/file not found/i);
    expect(await readFile(local, "utf8").catch(() => "")).not.toContain(SECRET);
    const http = await client.run(
      "curl",
      ["-sS", "-w", "\n%{http_code}", `http://${serverHost.address}:${HTTP_PORT}/ipxe/notes.txt`],
      { timeout: CLIENT_TIMEOUT_MS, reject: false },
    );
    expect(String(http.stdout)).not.toContain(SECRET);
    expect(String(http.stdout).split("\n").at(-1)).toBe("404");
  });

  it("cuts never-reading downloads, a trickled body and dripped headers; a genuine download completes meanwhile", async () => {
    const script = await client.run("curl", [
      "-sS",
      `http://${serverHost.address}:${HTTP_PORT}/boot/${MAC}.ipxe`,
    ]);
    const initrdPath = /initrd --name \S+ http:\/\/[^/]+(\/files\/\S+)/.exec(
      String(script.stdout),
    )?.[1];
    expect(initrdPath).toBeDefined();
    const unread = attack<{ opened: number }>(
      "http-unread",
      HTTP_PORT,
      initrdPath ?? "",
      UNREAD_DOWNLOADS,
      // Held past the server's cut: an end before this is the server's doing.
      WRITE_CUT_WITHIN_MS + HOLD_SLACK_MS,
    );
    const trickled = attackFrom<{ closedAfterMs?: number }>(
      attacker2,
      "http-trickle-body",
      HTTP_PORT,
      `/boot/${MAC}.ipxe`,
      20_000,
      3,
    );
    const dripped = attackFrom<{ closedAfterMs?: number; status?: string }>(
      attacker2,
      "http-drip-headers",
      HTTP_PORT,
      `/boot/${MAC}.ipxe`,
      1_000,
      3,
    );
    const fromAttacker = (type: string) =>
      events().filter((e) => e.type === type && e.peer === attacker.address);
    // The genuine machine, from another address, while the attacker holds its connections.
    await expect
      .poll(() => fromAttacker("http.file.start").length, { timeout: ATTACKER_START_MS })
      .toBeGreaterThan(0);
    const download = await client.run(
      "curl",
      [
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        `http://${serverHost.address}:${HTTP_PORT}${initrdPath}`,
      ],
      { timeout: CLIENT_TIMEOUT_MS },
    );
    expect(Number(download.stdout)).toBe(INITRD_BYTES);

    const [flood, trickle, drip] = await Promise.all([unread, trickled, dripped]);
    expect(flood.opened).toBe(UNREAD_DOWNLOADS);
    // MAX_CONNECTIONS_PER_ADDRESS are served; the others are closed at once.
    const refused = events().filter(
      (e) =>
        e.type === "server.error" &&
        String(e.error).startsWith(`refused a connection from ${attacker.address}:`),
    );
    expect(refused.length).toBeGreaterThanOrEqual(UNREAD_DOWNLOADS - MAX_CONNECTIONS_PER_ADDRESS);
    const starts = fromAttacker("http.file.start");
    expect(starts.length).toBeLessThanOrEqual(MAX_CONNECTIONS_PER_ADDRESS);
    expect(trickle.closedAfterMs).toBeDefined();
    expect(trickle.closedAfterMs).toBeLessThanOrEqual(REQUEST_CUT_WITHIN_MS);
    expect(drip.closedAfterMs).toBeDefined();
    expect(drip.closedAfterMs).toBeLessThanOrEqual(HEADERS_CUT_WITHIN_MS);
    expect(drip.status).toBe("408");
    // Every download the attacker started was ended by the server, not by the attacker.
    const firstStart = Math.min(...starts.map((e) => e.time as number));
    const ends = fromAttacker("http.file.end");
    expect(ends.length).toBe(starts.length);
    for (const end of ends) {
      expect(end.complete).toBe(false);
      expect((end.time as number) - firstStart).toBeLessThanOrEqual(WRITE_CUT_WITHIN_MS);
    }
    expect(exited).toBeUndefined();
  }, 300_000);
});

describe("netboot serve with a hostile --ipxe-dir", () => {
  it("refuses to start when a first stage links out of the directory, naming the link", async () => {
    const dir = path.join(base, "hostile-ipxe");
    await mkdir(dir);
    await writeFile(path.join(dir, "undionly.kpxe"), "bios");
    await symlink(path.join(base, "secret.txt"), path.join(dir, "ipxe.efi"));
    const host = await network.addHost("srv2", 4);
    const lines: LoggedLine[] = [];
    const child = startServe(host, dir, lines);
    const result = await child;
    expect(result.exitCode).toBe(2);
    expect(lines.map((line) => line.msg).join("\n")).toMatch(
      /ipxe\.efi is a link to .*secret\.txt, outside/,
    );
  });
});
