/**
 * Real firmware against our TFTP server: QEMU's SeaBIOS + iPXE ROM fetching undionly.kpxe, and
 * OVMF's own UEFI PXE (NIC ROM off) fetching ipxe.efi, with dnsmasq as the router handing out
 * addresses and pointing next-server at us. tshark records the read requests the firmware sends;
 * UPDATE_FIXTURES=1 stores them under test/fixtures/tftp for the codec's golden tests.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onLines } from "../../../lab/src/lines.js";
import { VirtualNetwork, type NetHost } from "../../../lab/src/netns.js";
import type { NetbootEvent } from "../../src/events.js";
import { decodeTftp } from "../../src/tftp/decode.js";
import { startLabMachine, type LabFirmware } from "../dhcp/lab.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const TSX = path.resolve(here, "../../../../node_modules/.bin/tsx");
const ENTRY = path.join(here, "serve.entry.ts");
const FIXTURES = path.resolve(here, "../fixtures/tftp");
const IPXE_DIR = "/usr/lib/ipxe";
const BIOS_MAC = "52:54:00:78:04:10";
const UEFI_MAC = "52:54:00:78:04:11";
const SUBNET = "10.78.4";
const BOOT_TIMEOUT_MS = 240_000;
const CAPTURE_FLUSH_MS = 10_000;

let network: VirtualNetwork;
let server: NetHost;
let base: string;
const children: ResultPromise[] = [];
const events: NetbootEvent[] = [];

function spawn(argv: [string, string[]]): ResultPromise {
  const child = execa(argv[0], argv[1], { buffer: false, reject: false });
  children.push(child);
  return child;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "tftp-firmware-"));
  const root = path.join(base, "root");
  await mkdir(root);
  for (const file of ["undionly.kpxe", "ipxe.efi"]) {
    await copyFile(path.join(IPXE_DIR, file), path.join(root, file));
  }
  network = await VirtualNetwork.create({ subnet: SUBNET });
  const router = await network.addHost("router", 1, { ipv6: "fd78:4::1/64" });
  server = await network.addHost("srv", 2);
  await network.addTap("tap0");

  const tftp = spawn(server.argv(TSX, [ENTRY, root, "0.0.0.0", "69"]));
  let listening = false;
  onLines(tftp.stdout, (line) => {
    if (line.startsWith("listening")) listening = true;
    else if (line.startsWith("{")) events.push(JSON.parse(line) as NetbootEvent);
  });
  spawn(
    router.argv("dnsmasq", [
      "--port=0",
      "--conf-file=/dev/null",
      "--bind-interfaces",
      "--interface=eth0",
      "--user=root",
      "--pid-file=",
      `--dhcp-leasefile=${path.join(base, "leases")}`,
      `--dhcp-range=${SUBNET}.100,${SUBNET}.150,255.255.255.0,1h`,
      // iPXE waits ~13 s for SLAAC without a router advertisement (LAB-NOTES).
      "--enable-ra",
      "--dhcp-range=fd78:4::,ra-only,64",
      "--no-ping",
      "--keep-in-foreground",
      "--dhcp-match=set:efi64,option:client-arch,7",
      `--dhcp-boot=tag:efi64,ipxe.efi,,${server.address}`,
      `--dhcp-boot=tag:!efi64,undionly.kpxe,,${server.address}`,
    ]),
  );
  await until(() => listening, 60_000, "the TFTP server");
}, 120_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGTERM");
  // Removing the namespaces kills what still runs inside (tsx's node child included).
  await network?.destroy();
  await Promise.allSettled(children);
  await rm(base, { recursive: true, force: true });
});

/** Captures read requests to port 69 while `boot` runs; returns their UDP payloads. */
async function captureRequests(boot: () => Promise<void>): Promise<Buffer[]> {
  // Live field output (-l): a request is in hand as soon as tshark prints it, so stopping
  // tshark right after a fast BIOS boot cannot lose a packet still buffered for a file.
  const capture = spawn(
    server.argv("tshark", [
      "-i",
      "eth0",
      "-f",
      "udp dst port 69",
      "-l",
      "-T",
      "fields",
      "-e",
      "udp.payload",
    ]),
  );
  let capturing = false;
  const payloads: Buffer[] = [];
  onLines(capture.stderr, (line) => (capturing ||= line.includes("Capturing on")));
  onLines(capture.stdout, (hex) => {
    if (hex) payloads.push(Buffer.from(hex.replaceAll(":", ""), "hex"));
  });
  await until(() => capturing, 60_000, "tshark");
  try {
    await boot();
    await until(() => payloads.length > 0, CAPTURE_FLUSH_MS, "tshark to print the read requests");
  } finally {
    capture.kill("SIGINT");
    await capture;
  }
  return payloads;
}

async function bootUntilServed(file: string, firmware: LabFirmware, mac: string): Promise<void> {
  const before = events.length;
  const machine = await startLabMachine(firmware, network, "tap0", base, { mac, noReboot: true });
  try {
    await until(
      () => events.slice(before).some((e) => e.type === "tftp.end" && e.file.endsWith(file)),
      BOOT_TIMEOUT_MS,
      `the firmware to fetch ${file}`,
    );
  } finally {
    await machine.stop();
  }
}

async function checkRequests(fixture: string, file: string, requests: Buffer[]) {
  const reads = requests.map((bytes) => ({ bytes, packet: decodeTftp(bytes) }));
  expect(reads.length).toBeGreaterThan(0);
  for (const { packet } of reads) {
    expect(packet).toMatchObject({ type: "RRQ", mode: expect.stringMatching(/^octet$/i) });
  }
  expect(reads.some(({ packet }) => packet.type === "RRQ" && packet.filename.endsWith(file))).toBe(
    true,
  );
  if (process.env.UPDATE_FIXTURES) {
    await mkdir(FIXTURES, { recursive: true });
    const text = reads.map(({ bytes }) => bytes.toString("hex")).join("\n");
    await writeFile(path.join(FIXTURES, fixture), `${text}\n`);
  }
}

describe("TFTP with real firmware in network namespaces", () => {
  it("serves undionly.kpxe to SeaBIOS with QEMU's iPXE ROM", async () => {
    const requests = await captureRequests(() =>
      bootUntilServed("undionly.kpxe", "bios-ipxe", BIOS_MAC),
    );
    await checkRequests("ipxe-bios-rrq.hex", "undionly.kpxe", requests);
    const served = events.find((e) => e.type === "tftp.end" && e.file.endsWith("undionly.kpxe"));
    const size = (await readFile(path.join(IPXE_DIR, "undionly.kpxe"))).length;
    expect(served).toMatchObject({ bytes: size });
  });

  it("serves ipxe.efi to OVMF's own UEFI PXE (NIC option ROM off)", async () => {
    const requests = await captureRequests(() =>
      bootUntilServed("ipxe.efi", "ovmf-native", UEFI_MAC),
    );
    await checkRequests("ovmf-rrq.hex", "ipxe.efi", requests);
    const served = events.find((e) => e.type === "tftp.end" && e.file.endsWith("ipxe.efi"));
    const size = (await readFile(path.join(IPXE_DIR, "ipxe.efi"))).length;
    expect(served).toMatchObject({ bytes: size });
  });
});
