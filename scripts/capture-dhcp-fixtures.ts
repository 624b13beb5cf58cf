/**
 * Re-makes the DHCP fixtures in packages/netboot/test/fixtures/dhcp/ from real firmware: each
 * scenario builds a throw-away namespace network (VirtualNetwork), starts QEMU on a tap in the
 * lan namespace, captures UDP 67/68/4011 on the bridge with tshark until the scenario's stop
 * line shows up (or its time runs out), then writes the pcap and a hex listing the tests read.
 *
 *   sudo npx tsx scripts/capture-dhcp-fixtures.ts [scenario…]
 *
 * Needs root, qemu-system-x86, ipxe-qemu, ovmf, dnsmasq-base and tshark. Nothing leaves the
 * namespaces; they are removed at the end, also on failure.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { onLines } from "../packages/lab/src/lines.js";
import { VirtualNetwork } from "../packages/lab/src/netns.js";
import type { QemuMachine } from "../packages/lab/src/qemu.js";
import {
  startLabMachine,
  proxyDnsmasqArgs,
  routerDnsmasqArgs,
  type LabFirmware,
} from "../packages/netboot/test/dhcp/lab.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(here, "../packages/netboot/test/fixtures/dhcp");
const CAPTURE_FILTER = "udp port 67 or udp port 68 or udp port 4011";

interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly firmware: LabFirmware;
  /** Run a dnsmasq home router (addresses only) and a dnsmasq proxyDHCP beside the client. */
  readonly withDnsmasq: boolean;
  /** Stop once this many tshark summary lines match. */
  readonly stopWhen: { readonly pattern: RegExp; readonly count: number };
  readonly timeoutSeconds: number;
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: "ipxe-bios-discover",
    description: "QEMU SeaBIOS + iPXE ROM (virtio-net), no DHCP server: its DISCOVERs",
    firmware: "bios-ipxe",
    withDnsmasq: false,
    stopWhen: { pattern: /DHCP Discover/, count: 2 },
    timeoutSeconds: 120,
  },
  {
    name: "ovmf-native-discover",
    description: "QEMU OVMF native PXE (NIC romfile= empty), no DHCP server: its DISCOVERs",
    firmware: "ovmf-native",
    withDnsmasq: false,
    stopWhen: { pattern: /DHCP Discover/, count: 2 },
    timeoutSeconds: 240,
  },
  {
    name: "ipxe-efi-discover",
    description: "QEMU OVMF + iPXE EFI ROM (virtio-net), no DHCP server: its DISCOVERs",
    firmware: "ovmf-ipxe",
    withDnsmasq: false,
    stopWhen: { pattern: /DHCP Discover/, count: 2 },
    timeoutSeconds: 240,
  },
  {
    name: "ovmf-native-dnsmasq-proxy",
    description:
      "QEMU OVMF native PXE next to a dnsmasq router (10.77.0.1, addresses) and a dnsmasq " +
      "proxyDHCP (10.77.0.2, --pxe-service): DISCOVER, both OFFERs, REQUEST, ACK, REQUEST and ACK on 4011",
    firmware: "ovmf-native",
    withDnsmasq: true,
    stopWhen: { pattern: /10\.77\.0\.2 → .*DHCP ACK/, count: 1 },
    timeoutSeconds: 300,
  },
  {
    name: "ipxe-bios-dnsmasq-proxy",
    description:
      "QEMU SeaBIOS + iPXE ROM next to a dnsmasq router (10.77.0.1) and a dnsmasq proxyDHCP " +
      "(10.77.0.2): DISCOVER, both OFFERs, REQUEST, ACK, then iPXE's boot server REQUEST on 4011 and its ACK",
    firmware: "bios-ipxe",
    withDnsmasq: true,
    stopWhen: { pattern: /DHCP ACK/, count: 1 },
    timeoutSeconds: 180,
  },
];

async function waitForLines(
  capture: ResultPromise,
  stop: Scenario["stopWhen"],
  timeoutSeconds: number,
): Promise<boolean> {
  let matched = 0;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutSeconds * 1000);
    onLines(capture.stdout, (line) => {
      process.stdout.write(`  ${line.trim()}\n`);
      if (stop.pattern.test(line) && ++matched >= stop.count) {
        clearTimeout(timer);
        resolve(true);
      }
    });
  });
}

async function capture(scenario: Scenario): Promise<void> {
  console.log(`\n${scenario.name}: ${scenario.description}`);
  const work = mkdtempSync(path.join(tmpdir(), "dhcp-capture-"));
  const network = await VirtualNetwork.create();
  const children: ResultPromise[] = [];
  let machine: QemuMachine | undefined;
  try {
    if (scenario.withDnsmasq) {
      const router = await network.addHost("router", 1, { ipv6: "fd77::1/64" });
      const proxy = await network.addHost("proxy", 2);
      children.push(
        router.run("dnsmasq", routerDnsmasqArgs(path.join(work, "router.leases")), {
          reject: false,
          stdout: "inherit",
          stderr: "inherit",
        }),
        proxy.run(
          "dnsmasq",
          proxyDnsmasqArgs([
            "--pxe-service=X86-64_EFI,Network boot,ipxe",
            "--pxe-service=BC_EFI,Network boot,ipxe",
            "--log-dhcp",
            `--dhcp-leasefile=${path.join(work, "proxy.leases")}`,
            "--log-facility=-",
          ]),
          { reject: false, stdout: "inherit", stderr: "inherit" },
        ),
      );
    }
    const tap = await network.addTap("tap0");
    const pcap = path.join(work, "capture.pcap");
    const [tshark, tsharkArgs] = network.lanArgv("tshark", [
      "-i",
      network.bridge,
      "-f",
      CAPTURE_FILTER,
      "-F",
      "pcap",
      "-w",
      pcap,
      "-P",
      "-l",
    ]);
    const sniffer = execa(tshark, tsharkArgs, { reject: false, stderr: "ignore" });
    children.push(sniffer);
    // tshark needs a moment before it captures; firmware takes far longer to send anything.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    machine = await startLabMachine(scenario.firmware, network, tap, work);
    const complete = await waitForLines(sniffer, scenario.stopWhen, scenario.timeoutSeconds);
    if (!complete) throw new Error(`${scenario.name}: stop condition not seen in time`);
    // Let tshark write the last packets before it is stopped.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    sniffer.kill("SIGINT");
    await sniffer;
    const listing = await execa("tshark", [
      "-r",
      pcap,
      "-T",
      "fields",
      "-E",
      "separator= ",
      "-e",
      "frame.time_relative",
      "-e",
      "ip.src",
      "-e",
      "udp.srcport",
      "-e",
      "ip.dst",
      "-e",
      "udp.dstport",
      "-e",
      "udp.payload",
    ]);
    const header =
      `# ${scenario.name}: ${scenario.description}\n` +
      `# Made by scripts/capture-dhcp-fixtures.ts. One UDP datagram a line:\n` +
      `# seconds source-ip source-port destination-ip destination-port payload-hex\n`;
    writeFileSync(path.join(FIXTURES, `${scenario.name}.txt`), header + listing.stdout + "\n");
    copyFileSync(pcap, path.join(FIXTURES, `${scenario.name}.pcap`));
    console.log(`  wrote ${scenario.name}.txt and ${scenario.name}.pcap`);
  } finally {
    await machine?.stop();
    for (const child of children) child.kill("SIGKILL");
    await Promise.allSettled(children);
    await network.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

const wanted = process.argv.slice(2);
for (const scenario of SCENARIOS) {
  if (wanted.length === 0 || wanted.includes(scenario.name)) await capture(scenario);
}
