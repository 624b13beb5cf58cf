/**
 * The measurement behind ADR 0011: does a firmware accept a proxyDHCP OFFER sent to a given
 * broadcast address? Builds a namespace network with a dnsmasq home router (10.77.0.1) and our
 * ProxyDhcpServer (10.77.0.2) replying to BROADCAST, boots one QEMU machine, prints the DHCP
 * traffic on the bridge (tshark) and whether the machine then fetched our boot file.
 *
 *   sudo npx tsx scripts/measure-dhcp-broadcast.ts bios-ipxe|ovmf-native|ovmf-ipxe BROADCAST [SECONDS]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { VirtualNetwork } from "../packages/lab/src/netns.js";
import {
  LAB_PROXY_SERVER,
  startLabMachine,
  routerDnsmasqArgs,
  runLabEntry,
  type LabFirmware,
} from "../packages/netboot/test/dhcp/lab.js";

const FIRMWARES: readonly LabFirmware[] = ["bios-ipxe", "ovmf-native", "ovmf-ipxe"];
const [firmware, broadcast, seconds = "200"] = process.argv.slice(2);
if (!FIRMWARES.includes(firmware as LabFirmware) || broadcast === undefined) {
  console.error(`usage: measure-dhcp-broadcast.ts ${FIRMWARES.join("|")} BROADCAST [SECONDS]`);
  process.exit(2);
}
const CAPTURE_FILTER =
  "udp port 67 or udp port 68 or udp port 4011 or udp port 69 or tcp port 8080";

const work = mkdtempSync(path.join(tmpdir(), "measure-dhcp-"));
const network = await VirtualNetwork.create();
try {
  const routerHost = await network.addHost("router", 1, { ipv6: "fd77::1/64" });
  const proxyHost = await network.addHost("proxy", 2);
  await network.addTap("tap0");
  const router = routerHost.run("dnsmasq", routerDnsmasqArgs(path.join(work, "leases")), {
    reject: false,
  });
  const server = runLabEntry<{ kind: string }>(proxyHost, LAB_PROXY_SERVER, {
    serverAddress: "10.77.0.2",
    httpPort: 8080,
    broadcastAddress: broadcast,
    listeners: true,
    printEvents: false,
  });
  await server.waitFor((record) => record.kind === "ready", 30_000, "our server to start");
  const [tshark, tsharkArgs] = network.lanArgv("tshark", [
    "-i",
    network.bridge,
    "-f",
    CAPTURE_FILTER,
    "-l",
  ]);
  const sniffer = execa(tshark, tsharkArgs, { reject: false, stdout: "inherit", stderr: "ignore" });
  // tshark needs a moment before it captures.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const machine = await startLabMachine(firmware as LabFirmware, network, "tap0", work);
  const started = Date.now();
  try {
    const fetched = await server.waitFor(
      (record) => record.kind === "tftp" || record.kind === "http",
      Number(seconds) * 1000,
      "a boot file request",
    );
    const after = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `RESULT ${firmware} ${broadcast}: accepted, fetched ${JSON.stringify(fetched)} after ${after} s`,
    );
  } catch {
    console.log(`RESULT ${firmware} ${broadcast}: no boot file request within ${seconds} s`);
  }
  // SIGINT lets tshark flush the packet lines it still buffers.
  sniffer.kill("SIGINT");
  await sniffer;
  await machine.stop();
  router.kill("SIGKILL");
  await server.stop();
  await Promise.allSettled([router]);
} finally {
  await network.destroy();
  rmSync(work, { recursive: true, force: true });
}
