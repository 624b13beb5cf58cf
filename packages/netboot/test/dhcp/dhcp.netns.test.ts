/**
 * Interop of our ProxyDhcpServer with real peers, inside throw-away namespaces: a dnsmasq home
 * router (10.77.0.1, addresses only) and our server (10.77.0.2, run as a child process in its
 * own namespace) on one bridge, and real firmware in QEMU. A client proves it took both answers
 * by asking OUR listeners for OUR boot file FROM the router's address.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ResultPromise } from "execa";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { VirtualNetwork, type NetHost } from "../../../lab/src/netns.js";
import type { NetbootEvent } from "../../src/index.js";
import {
  LAB_DHCP_CLIENT,
  LAB_MAC,
  LAB_PROXY_SERVER,
  startLabMachine,
  routerDnsmasqArgs,
  runLabEntry,
  type JsonLineProcess,
  type LabFirmware,
} from "./lab.js";

type ServerRecord =
  | ({ kind: "event" } & NetbootEvent)
  | { kind: "tftp"; from: string; file: string }
  | { kind: "http"; from: string; path: string }
  | { kind: "ready"; broadcastAddress: string };
type ClientRecord = { kind: "result"; sent: number; answered: number; latenciesMs: number[] };

const SERVER_ADDRESS = "10.77.0.2";
const HTTP_PORT = 8080;
const ROUTER_LEASE = /^10\.77\.0\.1\d\d$/;
const BOOT_TIMEOUT_MS = 200_000;

describe("ProxyDhcpServer next to a dnsmasq home router, with real firmware", () => {
  let network: VirtualNetwork;
  let proxyHost: NetHost;
  let proberHost: NetHost;
  let router: ResultPromise;
  let work: string;
  const running: Array<{ stop(): Promise<void> } | ResultPromise> = [];

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "dhcp-netns-"));
    network = await VirtualNetwork.create();
    const routerHost = await network.addHost("router", 1, { ipv6: "fd77::1/64" });
    proxyHost = await network.addHost("proxy", 2);
    proberHost = await network.addHost("prober", 3);
    await network.addTap("tap0");
    router = routerHost.run("dnsmasq", routerDnsmasqArgs(path.join(work, "leases")), {
      reject: false,
    });
  });

  afterEach(async () => {
    for (const child of running.splice(0)) {
      if ("stop" in child) await child.stop();
      else {
        child.kill("SIGKILL");
        await child;
      }
    }
  });

  afterAll(async () => {
    router?.kill("SIGKILL");
    await router;
    await network?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  async function startServer() {
    const server = runLabEntry<ServerRecord>(proxyHost, LAB_PROXY_SERVER, {
      serverAddress: SERVER_ADDRESS,
      httpPort: HTTP_PORT,
      listeners: true,
    });
    running.push(server);
    await server.waitFor((record) => record.kind === "ready", 30_000, "the server to start");
    return server;
  }

  async function bootMachine(firmware: LabFirmware) {
    running.push(await startLabMachine(firmware, network, "tap0", work));
  }

  function repliesOf(server: JsonLineProcess<ServerRecord>) {
    return server.records.flatMap((record) =>
      record.kind === "event" && record.type === "dhcp.reply" ? [record] : [],
    );
  }

  it.each<[string, LabFirmware]>([
    ["a BIOS iPXE machine (SeaBIOS + iPXE ROM)", "bios-ipxe"],
    ["a UEFI iPXE machine (OVMF + iPXE EFI ROM)", "ovmf-ipxe"],
  ])(
    "%s leases from the router and fetches our script URL over HTTP",
    { timeout: BOOT_TIMEOUT_MS + 30_000 },
    async (_name, firmware) => {
      const server = await startServer();
      await bootMachine(firmware);
      const fetched = await server.waitFor(
        (record) => record.kind === "http",
        BOOT_TIMEOUT_MS,
        "iPXE to fetch its script",
      );
      // iPXE percent-encodes the colons of the MAC in the path it requests.
      expect(decodeURIComponent((fetched as { path: string }).path)).toBe(`/boot/${LAB_MAC}.ipxe`);
      expect((fetched as { from: string }).from).toMatch(ROUTER_LEASE);
      const replies = repliesOf(server);
      expect(replies[0]).toMatchObject({ message: "OFFER", to: "255.255.255.255:68" });
    },
  );

  it(
    "an OVMF native-PXE machine leases from the router and fetches ipxe.efi over TFTP",
    { timeout: BOOT_TIMEOUT_MS + 30_000 },
    async () => {
      const server = await startServer();
      await bootMachine("ovmf-native");
      const fetched = await server.waitFor(
        (record) => record.kind === "tftp",
        BOOT_TIMEOUT_MS,
        "OVMF to ask for its first stage over TFTP",
      );
      expect(fetched).toMatchObject({ file: "ipxe.efi" });
      expect((fetched as { from: string }).from).toMatch(ROUTER_LEASE);
      const replies = repliesOf(server);
      // OVMF takes the file from our OFFER: no REQUEST on 4011 follows (ADR 0010).
      expect(replies.map((reply) => reply.message)).toEqual(["OFFER"]);
      expect(replies[0]).toMatchObject({ to: "255.255.255.255:68" });
    },
  );

  it("survives garbage over the wire and answers the next DISCOVER", async () => {
    const server = await startServer();
    const prober = runLabEntry<ClientRecord>(proberHost, LAB_DHCP_CLIENT, {
      target: "255.255.255.255",
      serverId: SERVER_ADDRESS,
      garbage: 200,
      count: 1,
      ratePerSecond: 1,
      settleMs: 2000,
    });
    running.push(prober);
    const result = await prober.waitFor((record) => record.kind === "result", 60_000, "the prober");
    expect(result).toMatchObject({ sent: 1, answered: 1 });
    const ignored = server.records.filter(
      (record) => record.kind === "event" && record.type === "dhcp.ignored",
    );
    expect(ignored.length).toBeGreaterThan(150);
    expect(server.process.exitCode).toBeNull();
  });
  it("answers a relayed DISCOVER unicast to the relay agent's port 67", async () => {
    const server = await startServer();
    const relay = runLabEntry<ClientRecord>(proberHost, LAB_DHCP_CLIENT, {
      target: SERVER_ADDRESS,
      serverId: SERVER_ADDRESS,
      relayAddress: proberHost.address,
      garbage: 0,
      count: 3,
      ratePerSecond: 10,
      settleMs: 2000,
    });
    running.push(relay);
    const result = await relay.waitFor((record) => record.kind === "result", 60_000, "the relay");
    expect(result).toMatchObject({ sent: 3, answered: 3 });
    const replies = repliesOf(server);
    expect(replies.map((reply) => reply.to)).toEqual(Array(3).fill(`${proberHost.address}:67`));
  });

  it("answers through the PXE network's interface when the default route points elsewhere", async () => {
    // Like a laptop on Wi-Fi and a cable: a second interface holds the default route, and no
    // host route sends 255.255.255.255 out of the PXE side.
    const inProxy = (...args: string[]) => proxyHost.run("ip", args);
    await inProxy("link", "add", "wlan0", "type", "veth", "peer", "name", "wlan0peer");
    await inProxy("addr", "add", "192.168.50.2/24", "dev", "wlan0");
    await inProxy("link", "set", "wlan0", "up");
    await inProxy("link", "set", "wlan0peer", "up");
    await inProxy("route", "add", "default", "via", "192.168.50.1", "dev", "wlan0");
    await inProxy("route", "del", "255.255.255.255/32", "dev", "eth0");
    try {
      await startServer();
      const prober = runLabEntry<ClientRecord>(proberHost, LAB_DHCP_CLIENT, {
        target: "255.255.255.255",
        serverId: SERVER_ADDRESS,
        garbage: 0,
        count: 5,
        ratePerSecond: 10,
        settleMs: 2000,
      });
      running.push(prober);
      const result = await prober.waitFor(
        (record) => record.kind === "result",
        60_000,
        "the prober",
      );
      expect(result).toMatchObject({ sent: 5, answered: 5 });
    } finally {
      await inProxy("link", "del", "wlan0");
      await inProxy("route", "add", "255.255.255.255/32", "dev", "eth0");
    }
  });
});
