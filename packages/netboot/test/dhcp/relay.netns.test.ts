/**
 * Our proxy OFFER through a real RFC 1542 relay: dnsmasq `--dhcp-relay` in a router namespace
 * between two bridges (packages/lab DhcpRelay), the dnsmasq home router and our server upstream
 * (10.77.0.0/24), a PXE client downstream (10.78.0.0/24) that leaves the broadcast flag clear as
 * the iPXE BIOS ROM and OVMF do. The relay forwards each DISCOVER to both servers and must
 * deliver our OFFER (no yiaddr) back on the client's link. Firmware end to end: relay.netns.test.ts
 * at the package root.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VirtualNetwork, type NetHost } from "../../../lab/src/netns.js";
import { DhcpRelay } from "../../../lab/src/relay.js";
import { HomeRouter } from "../../../lab/src/router.js";
import type { NetbootEvent } from "../../src/index.js";
import { LAB_DHCP_CLIENT, LAB_PROXY_SERVER, runLabEntry, type JsonLineProcess } from "./lab.js";

type ServerRecord = ({ kind: "event" } & NetbootEvent) | { kind: "ready" };
type ClientRecord = { kind: "result"; sent: number; answered: number; latenciesMs: number[] };

const SERVER_OCTET = 2;
const DISCOVERS = 5;
const RUN_TIMEOUT_MS = 30_000;

describe("proxy OFFERs through dnsmasq's DHCP relay", () => {
  let work: string;
  let upstream: VirtualNetwork;
  let downstream: VirtualNetwork;
  let router: HomeRouter;
  let relay: DhcpRelay;
  let serverHost: NetHost;
  let clientHost: NetHost;
  let server: JsonLineProcess<ServerRecord>;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "dhcp-relay-"));
    upstream = await VirtualNetwork.create({ subnet: "10.77.0" });
    downstream = await VirtualNetwork.create({ subnet: "10.78.0" });
    router = await HomeRouter.start({
      network: upstream,
      workDir: path.join(work, "router"),
      relayedSubnets: [{ subnet: "10.78.0", gateway: "10.78.0.1" }],
    });
    serverHost = await upstream.addHost("server", SERVER_OCTET);
    relay = await DhcpRelay.start({
      upstream,
      downstream,
      servers: [router.address, serverHost.address],
      workDir: path.join(work, "relay"),
    });
    await relay.routeFrom(router.host);
    await relay.routeFrom(serverHost);
    clientHost = await downstream.addHost("client", 50);
    server = runLabEntry<ServerRecord>(serverHost, LAB_PROXY_SERVER, {
      serverAddress: serverHost.address,
      httpPort: 8080,
      listeners: false,
    });
    await server.waitFor((record) => record.kind === "ready", RUN_TIMEOUT_MS, "the server");
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await relay?.stop();
    await router?.stop();
    await downstream?.destroy();
    await upstream?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it(
    "delivers every OFFER to a client that left the broadcast flag clear",
    async () => {
      const client = runLabEntry<ClientRecord>(clientHost, LAB_DHCP_CLIENT, {
        target: "255.255.255.255",
        serverId: serverHost.address,
        garbage: 0,
        count: DISCOVERS,
        ratePerSecond: 10,
        settleMs: 2_000,
        broadcastFlag: false,
      });
      const result = await client.waitFor(
        (record) => record.kind === "result",
        RUN_TIMEOUT_MS,
        "the client's result",
      );
      const replies = server.records.filter(
        (record) => record.kind === "event" && record.type === "dhcp.reply",
      );
      // The server answered each relayed DISCOVER to the relay's port 67 …
      expect(replies).toHaveLength(DISCOVERS);
      for (const reply of replies) expect(reply).toMatchObject({ to: `${relay.gateway}:67` });
      // … and the relay passed every one on to the client.
      expect(result.answered).toBe(DISCOVERS);
    },
    RUN_TIMEOUT_MS * 2,
  );
});
