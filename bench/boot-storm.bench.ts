/**
 * Boot storm (issue 12): BOOT_STORM_CLIENTS simulated UEFI PXE clients at once run the whole
 * chain (DISCOVER → proxy OFFER, REQUEST/ACK on 4011, the first stage over TFTP with OVMF's
 * tsize probe and blksize 1468 + windowsize 4, the iPXE script over HTTP, a kernel + initrd of 64 MiB together over
 * HTTP; see boot-storm-client.ts) against two setups on the same bridge, in the same run:
 *  - netboot: the real NetbootServer (boot-storm-netboot.ts), one process;
 *  - peers:   dnsmasq in proxy mode with its TFTP server, and nginx for the script and files.
 * Servers and clients each live in their own namespace (VirtualNetwork). Printed, with targets:
 * time until every client holds every byte as peers/netboot (≥ 1.0×), netboot's peak RSS
 * (VmHWM of its process, < 200 MiB), and at 5 % packet loss on the bridge (nftables) every
 * client still done (netboot only). Rounds alternate the setups so both meet the same machine load.
 * Needs root, dnsmasq, nginx and nft.
 *
 *   npx tsx bench/boot-storm.bench.ts   (BOOT_STORM_CLIENTS, BOOT_STORM_ROUNDS change the load)
 */
import { randomBytes } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { VirtualNetwork, type NetHost } from "../packages/lab/src/netns.js";
import { addPacketLoss } from "../packages/lab/src/packet-loss.js";
import { proxyDnsmasqArgs, runLabEntry } from "../packages/netboot/test/dhcp/lab.js";
import { startNginx } from "../packages/netboot/test/http/fixtures/nginx.js";
import { DEBIAN_FIRST_STAGES, DEBIAN_IPXE_DIR } from "../packages/netboot/src/index.js";
import type { ClientResult } from "./boot-storm-client.js";
import { median, procStatusBytes } from "./stats.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLIENT_ENTRY = path.join(here, "boot-storm-client.ts");
const NETBOOT_ENTRY = path.join(here, "boot-storm-netboot.ts");
const MIB = 1024 * 1024;
const CLIENTS = Number(process.env.BOOT_STORM_CLIENTS ?? 50);
const ROUNDS = Number(process.env.BOOT_STORM_ROUNDS ?? 3);
/** 64 MiB together, split roughly as a distribution kernel and its initrd. */
const KERNEL_BYTES = 16 * MIB;
const INITRD_BYTES = 48 * MIB;
const LOSS_PERCENT = 5;
const SERVER_OCTET = 2;
const CLIENT_OCTET = 3;
const FIRST_CLIENT_OCTET = 100;
const NETBOOT_HTTP_PORT = 8080;
const NGINX_PORT = 8081;
/** One scenario may take this long before the bench gives up on it (stops by itself). */
const SCENARIO_TIMEOUT_MS = 15 * 60_000;
const DNSMASQ_START_MS = 1_000;
const TARGET_RATIO = 1.0;
const TARGET_RSS = 200 * MIB;
/** UEFI x64 first stage (arch 7): the one NetbootServer serves, given to dnsmasq too. */
const FIRST_STAGE = DEBIAN_FIRST_STAGES["uefi-x64"] as string;

interface StormResult {
  readonly seconds: number;
  readonly done: number;
  readonly retries: number;
  readonly errors: readonly string[];
  /** Each distinct retry reason with how often it happened. */
  readonly retryReasons: readonly string[];
  readonly peakRss?: number;
  /** netboot only: what its TFTP server did (boot-storm-netboot.ts). */
  readonly tftp?: TftpCounts;
}

interface TftpCounts {
  readonly started: number;
  readonly restartedForSamePort: number;
  readonly busy: number;
  readonly deferred: number;
  readonly timedOut: number;
  readonly mostAtOnce: number;
  readonly busyReasons: readonly string[];
}

interface Files {
  readonly dir: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly script: string;
  readonly tftpRoot: string;
}

async function makeFiles(serverAddress: string): Promise<Files> {
  const dir = await mkdtemp(path.join(tmpdir(), "boot-storm-"));
  // nginx workers and dnsmasq's TFTP run as nobody: everything world-readable.
  await chmod(dir, 0o755);
  const kernel = path.join(dir, "vmlinuz");
  const initrd = path.join(dir, "initrd.img");
  await writeFile(kernel, randomBytes(KERNEL_BYTES), { mode: 0o644 });
  await writeFile(initrd, randomBytes(INITRD_BYTES), { mode: 0o644 });
  const base = `http://${serverAddress}:${NGINX_PORT}`;
  // The script nginx serves says what NetbootServer's says (ipxe/script.ts), without retries.
  const script = path.join(dir, "boot.ipxe");
  await writeFile(
    script,
    `#!ipxe\nkernel ${base}/vmlinuz initrd=initrd.img\ninitrd --name initrd.img ${base}/initrd.img\nboot\n`,
    { mode: 0o644 },
  );
  const tftpRoot = path.join(dir, "tftp");
  await mkdir(tftpRoot, { mode: 0o755 });
  await copyFile(path.join(DEBIAN_IPXE_DIR, FIRST_STAGE), path.join(tftpRoot, FIRST_STAGE));
  await chmod(path.join(tftpRoot, FIRST_STAGE), 0o644);
  return { dir, kernel, initrd, script, tftpRoot };
}

function countReasons(reasons: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  return [...counts].map(([reason, count]) => `${count}× ${reason}`);
}

async function storm(client: NetHost, scriptUrl: string): Promise<StormResult> {
  const run = runLabEntry<{ kind: string; clients: ClientResult[] }>(client, CLIENT_ENTRY, {
    count: CLIENTS,
    clientAddresses,
    scriptUrl,
  });
  try {
    const { clients } = await run.waitFor(
      (record) => record.kind === "result",
      SCENARIO_TIMEOUT_MS,
      `${CLIENTS} clients to boot`,
    );
    const done = clients.filter((one) => one.ok);
    return {
      seconds: Math.max(...clients.map((one) => one.ms)) / 1000,
      done: done.length,
      retries: clients.reduce((sum, one) => sum + one.retries, 0),
      errors: [...new Set(clients.flatMap((one) => (one.error ? [one.error] : [])))],
      retryReasons: countReasons(clients.flatMap((one) => one.retryReasons)),
    };
  } finally {
    await run.stop();
  }
}

async function stormNetboot(server: NetHost, client: NetHost, files: Files) {
  const netboot = runLabEntry<{ kind: string; httpUrl?: string } & Partial<TftpCounts>>(
    server,
    NETBOOT_ENTRY,
    {
      serverAddress: server.address,
      httpPort: NETBOOT_HTTP_PORT,
      kernel: files.kernel,
      initrd: files.initrd,
    },
  );
  let result: StormResult;
  try {
    const ready = await netboot.waitFor((r) => r.kind === "ready", 30_000, "NetbootServer");
    result = await storm(client, `${ready.httpUrl}/boot/{mac}.ipxe`);
    result = { ...result, peakRss: procStatusBytes(netboot.process.pid!, "VmHWM") };
  } finally {
    await netboot.stop();
  }
  const counts = netboot.records.find((record) => record.kind === "tftp") as TftpCounts | undefined;
  return { ...result, tftp: counts };
}

async function stormPeers(server: NetHost, client: NetHost, files: Files) {
  // dnsmasq(8) --pxe-service: "<CSA>,<menu text>,<basename>" makes dnsmasq the boot server
  // that directs the client to the file by TFTP, "from itself (--enable-tftp must be set)".
  // OVMF sends arch 7, which dnsmasq names BC_EFI: its CSA table (dnsmasq src/option.c,
  // LOPT_PXE_SERV) is indexed by option 93 and puts x86-64_EFI at 9, so both are offered.
  const dnsmasq = server.run(
    "dnsmasq",
    proxyDnsmasqArgs([
      `--pxe-service=BC_EFI,Network boot,${FIRST_STAGE}`,
      `--pxe-service=x86-64_EFI,Network boot,${FIRST_STAGE}`,
      "--enable-tftp",
      `--tftp-root=${files.tftpRoot}`,
      "--quiet-dhcp",
      "--log-facility=/dev/null",
      "--dhcp-leasefile=/dev/null",
    ]),
    { reject: false },
  );
  const nginx = await startNginx(files.dir, files.script, {
    address: server.address,
    port: NGINX_PORT,
    argv: (command, args) => server.argv(command, args),
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, DNSMASQ_START_MS));
    if (dnsmasq.exitCode !== null) throw new Error(`dnsmasq exited: ${(await dnsmasq).stderr}`);
    return await storm(client, `http://${server.address}:${NGINX_PORT}/boot.ipxe`);
  } finally {
    dnsmasq.kill("SIGTERM");
    await Promise.all([dnsmasq, nginx.stop()]);
  }
}

function describe(name: string, result: StormResult): string {
  const rss =
    result.peakRss === undefined ? "" : `  peak RSS ${(result.peakRss / MIB).toFixed(0)} MiB`;
  const errors = result.errors.length > 0 ? `  errors: ${result.errors.join("; ")}` : "";
  const reasons =
    result.retryReasons.length > 0 ? `\n    retried: ${result.retryReasons.join("; ")}` : "";
  const tftp =
    result.tftp === undefined
      ? ""
      : `\n    TFTP server: ${result.tftp.started} transfers started (${result.tftp.restartedForSamePort} again for a client port that had one), ` +
        `${result.tftp.busy} busy refusals (target 0), ${result.tftp.deferred} requests left for their repeat at the limit, ${result.tftp.timedOut} timed out, at most ${result.tftp.mostAtOnce} at once` +
        result.tftp.busyReasons.map((reason) => `\n      refused: ${reason}`).join("");
  return `${name.padEnd(34)} ${result.seconds.toFixed(2).padStart(7)} s  done ${result.done}/${CLIENTS}  retries ${result.retries}${rss}${errors}${reasons}${tftp}`;
}

const network = await VirtualNetwork.create();
const server = await network.addHost("server", SERVER_OCTET);
const client = await network.addHost("client", CLIENT_OCTET);
/** Each simulated machine's own address, added to the client namespace's interface. */
const clientAddresses = Array.from(
  { length: CLIENTS },
  (_, index) => `${network.subnet}.${FIRST_CLIENT_OCTET + index}`,
);
for (const address of clientAddresses) {
  await execa("ip", [
    "-n",
    client.namespace,
    "addr",
    "add",
    `${address}/24`,
    "dev",
    client.interface,
  ]);
}
const files = await makeFiles(server.address);
try {
  console.log(
    `boot storm: ${CLIENTS} UEFI PXE clients at once, DHCP → 4011 → TFTP ${FIRST_STAGE} (OVMF's tsize probe, then blksize 1468 windowsize 4) → ` +
      `script → ${(KERNEL_BYTES + INITRD_BYTES) / MIB} MiB kernel + initrd over HTTP; median of ${ROUNDS} alternating round(s)`,
  );
  const clean = { netboot: [] as StormResult[], peers: [] as StormResult[] };
  for (let round = 0; round < ROUNDS; round++) {
    const ours = await stormNetboot(server, client, files);
    console.log(describe(`round ${round + 1} netboot`, ours));
    clean.netboot.push(ours);
    const theirs = await stormPeers(server, client, files);
    console.log(describe(`round ${round + 1} dnsmasq + nginx`, theirs));
    clean.peers.push(theirs);
  }
  const removeLoss = await addPacketLoss(network, LOSS_PERCENT);
  // Only netboot runs lossy: the target is that no client is lost, and a lossy round of the
  // peers would add minutes (TCP and lock-step TFTP crawl at 5 % loss) for no ratio.
  let lossy: StormResult;
  try {
    lossy = await stormNetboot(server, client, files);
    console.log(describe(`${LOSS_PERCENT} % loss netboot`, lossy));
  } finally {
    await removeLoss();
  }

  const oursSeconds = median(clean.netboot.map((r) => r.seconds));
  const peerSeconds = median(clean.peers.map((r) => r.seconds));
  const allDone = clean.netboot.every((r) => r.done === CLIENTS);
  const ratio = peerSeconds / oursSeconds;
  const peak = Math.max(...clean.netboot.map((r) => r.peakRss ?? 0), lossy.peakRss ?? 0);
  const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
  console.log(
    `ratio time until all ${CLIENTS} hold every byte, dnsmasq+nginx/netboot: ${ratio.toFixed(2)}x ` +
      `(${peerSeconds.toFixed(2)} s / ${oursSeconds.toFixed(2)} s; target >= ${TARGET_RATIO.toFixed(2)}x: ${verdict(ratio >= TARGET_RATIO && allDone)})`,
  );
  console.log(
    `netboot peak RSS ${(peak / MIB).toFixed(0)} MiB (target < ${TARGET_RSS / MIB} MiB: ${verdict(peak < TARGET_RSS)})`,
  );
  console.log(
    `${LOSS_PERCENT} % loss: netboot ${lossy.done}/${CLIENTS} clients done in ${lossy.seconds.toFixed(2)} s ` +
      `(target all: ${verdict(lossy.done === CLIENTS)})`,
  );
  const met = ratio >= TARGET_RATIO && allDone && peak < TARGET_RSS && lossy.done === CLIENTS;
  process.exitCode = met ? 0 : 1;
} finally {
  await network.destroy();
  await rm(files.dir, { recursive: true, force: true });
}
