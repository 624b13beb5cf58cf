/**
 * /metrics counts a real PXE exchange: a NetbootServer in one namespace, a scripted PXE client
 * in another sends DISCOVERs with netboot's DHCP codec (one MAC the policy boots, one it does
 * not), then curl fetches the offered first stage over TFTP. The counters are read from
 * /metrics over HTTP, as Prometheus would.
 */
import { stat } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VirtualNetwork, type NetHost } from "metal-lab";
import {
  LAB_DHCP_CLIENT,
  runLabEntry,
  type JsonLineProcess,
} from "../../../netboot/test/dhcp/lab.js";

const SERVER_ADDRESS = "10.77.0.2";
const HTTP_PORT = 8080;
/** lab-dhcp-client.ts numbers its MACs 52:54:00:aa:00:00, …:01, …; the first is booted. */
const BOOTED_MAC = "52:54:00:aa:00:00";
const FIRST_STAGE = "/usr/lib/ipxe/undionly.kpxe";
const START_TIMEOUT_MS = 30_000;

function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("/metrics during a real PXE exchange", () => {
  let network: VirtualNetwork;
  let client: NetHost;
  let server: JsonLineProcess<{ kind: string }>;

  beforeAll(async () => {
    network = await VirtualNetwork.create();
    const serverHost = await network.addHost("srv", 2);
    client = await network.addHost("cli", 50);
    server = runLabEntry(
      serverHost,
      new URL("support/metrics-boot-server.ts", import.meta.url).pathname,
      {
        serverAddress: SERVER_ADDRESS,
        httpPort: HTTP_PORT,
        allowedMac: BOOTED_MAC,
      },
    );
    await server.waitFor((record) => record.kind === "ready", START_TIMEOUT_MS, "the server");
  });

  afterAll(async () => {
    await server?.stop();
    await network?.destroy();
  });

  const scrape = async () =>
    (await client.run("curl", ["-sf", `http://${SERVER_ADDRESS}:${HTTP_PORT}/metrics`]))
      .stdout as string;

  it("counts DHCP packets by decision and a TFTP transfer with its bytes", async () => {
    const before = await scrape();
    expect(sample(before, 'metal_tftp_transfers_total{outcome="completed"}')).toBeUndefined();

    const dhcp = runLabEntry<{ kind: string; answered?: number }>(client, LAB_DHCP_CLIENT, {
      target: "255.255.255.255",
      serverId: SERVER_ADDRESS,
      garbage: 0,
      count: 2,
      ratePerSecond: 10,
      settleMs: 1000,
    });
    const result = await dhcp.waitFor(
      (record) => record.kind === "result",
      START_TIMEOUT_MS,
      "the DHCP client",
    );
    expect(result.answered).toBe(1);
    await client.run("curl", ["-sf", "-o", "/dev/null", `tftp://${SERVER_ADDRESS}/undionly.kpxe`]);

    const after = await scrape();
    expect(sample(after, 'metal_dhcp_requests_total{message="DISCOVER",port="67"}')).toBe(2);
    expect(
      sample(after, 'metal_dhcp_replies_total{message="OFFER",port="67",firmware="bios"}'),
    ).toBe(1);
    expect(sample(after, 'metal_dhcp_ignored_total{port="67",reason="policy"}')).toBe(1);
    expect(sample(after, 'metal_tftp_transfers_total{outcome="started"}')).toBe(1);
    expect(sample(after, 'metal_tftp_transfers_total{outcome="completed"}')).toBe(1);
    expect(sample(after, "metal_tftp_bytes_total")).toBe((await stat(FIRST_STAGE)).size);
  });
});
