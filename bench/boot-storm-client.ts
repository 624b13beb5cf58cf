/**
 * Bench entry, run inside the client namespace by boot-storm.bench.ts: `count` simulated UEFI
 * PXE clients at once, each running the whole chain a real OVMF + iPXE machine runs:
 *  1. DISCOVER (arch 7, `PXEClient:Arch:00007:UNDI:003000`, as OVMF's own PXE sends, see
 *     ../shared/LAB-NOTES.md "Wire facts") → a proxy OFFER naming the boot server;
 *  2. REQUEST to the boot server's port 4011 → ACK with the first-stage file name;
 *  3. that file over TFTP as OVMF fetches it (captured in packages/netboot/test/fixtures/tftp,
 *     decoded by firmware-fixtures.test.ts): a size probe `tsize 0, blksize 1468,
 *     windowsize 4` ended after the OACK, then the transfer with `blksize 1468, windowsize 4`;
 *  4. the iPXE script over HTTP (URL from `scriptUrl`, `{mac}` replaced), then every `kernel`
 *     and `initrd` URL the script names, counting the bytes.
 * Each client has its own address (from `clientAddresses`); all share one socket on UDP 68,
 * replies told apart by xid. Each step is retried
 * a bounded number of times, as firmware does (ADR 0220). Prints one JSON line:
 * {"kind":"result","clients":[{"mac","ok","bytes","ms","retries","error"?}…]}.
 */
import dgram from "node:dgram";
import http from "node:http";
import {
  decodeDhcp,
  DhcpDecodeError,
  DhcpMessageType,
  DhcpPort,
  encodeDhcp,
  FLAG_BROADCAST,
  messageType,
  option,
  readOption,
  type DhcpPacket,
} from "../packages/netboot/src/index.js";
import { decodeTftp } from "../packages/netboot/src/tftp/decode.js";
import { encodeError, encodeTftp } from "../packages/netboot/src/tftp/encode.js";
import { tftpGet } from "../packages/netboot/test/tftp/client.js";

interface StormConfig {
  readonly count: number;
  /**
   * One address per client, all on this namespace's interface: the ciaddr of its 4011 REQUEST
   * and the source of its TFTP and HTTP traffic, as each machine has its own lease. (netboot
   * allows 4 TFTP transfers per address, DEFAULT_MAX_TRANSFERS_PER_ADDRESS.)
   */
  readonly clientAddresses: readonly string[];
  /** Template of the script URL; `{mac}` becomes the client's MAC (aa:bb:…). */
  readonly scriptUrl: string;
}

const config = JSON.parse(process.argv[2] ?? "{}") as StormConfig;
const XID_BASE = 0x20000000;
const MAC_PREFIX = "52:54:00:bb";
const OVMF_VENDOR_CLASS = "PXEClient:Arch:00007:UNDI:003000";
const OVMF_ARCH = 7;
/** PXE 2.1 §2.2.1: DISCOVER is repeated after 4, 8, 16 and 32 seconds, then the boot fails. */
const DISCOVER_TIMEOUTS_MS = [4_000, 8_000, 16_000, 32_000];
/** The 4011 REQUEST: bounded like DISCOVER but shorter, the boot server is already known. */
const BOOT_SERVER_TIMEOUTS_MS = [1_000, 2_000, 4_000, 8_000];
const TFTP_ATTEMPTS = 3;
const TFTP_ATTEMPT_TIMEOUT_MS = 120_000;
/** iPXE's script retries `kernel`/`initrd` (DEFAULT_FETCH_RETRY); TCP repairs loss itself. */
const HTTP_ATTEMPTS = 3;
const HTTP_ATTEMPT_TIMEOUT_MS = 300_000;
const PXE_BOOT_MENU = 9;
const PXE_BOOT_ITEM = 71;
/** The 4011 exchange gets its own xid, so a late OFFER is never taken for the ACK. */
const ACK_XID_OFFSET = 0x1000;
const OVMF_BLKSIZE = "1468";
const OVMF_WINDOWSIZE = "4";
const TFTP_PORT = 69;
/** edk2's EFI_MTFTP4_ERRORCODE_REQUEST_DENIED, sent to end the size probe (see sizeProbe). */
const TFTP_ERROR_REQUEST_DENIED = 8;
const EDK2_ABORT_TEXT = "User aborted the transfer";
const PROBE_RETRY_MS = 1_000;
const PROBE_ATTEMPT_TIMEOUT_MS = 10_000;
const BOOT_LINE = /^\s*(?:kernel|initrd)\b.*?(https?:\/\/\S+)/gm;

export interface ClientResult {
  readonly mac: string;
  readonly ok: boolean;
  readonly bytes: number;
  readonly ms: number;
  readonly retries: number;
  /** Why each retry happened (a step's error, or which DHCP reply timed out). */
  readonly retryReasons: readonly string[];
  readonly error?: string;
}

interface RetryCounter {
  retries: number;
  readonly reasons: string[];
}

const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
await new Promise<void>((resolve) => socket.bind(DhcpPort.client, "0.0.0.0", resolve));
socket.setBroadcast(true);
const waiting = new Map<number, (reply: DhcpPacket) => void>();
socket.on("message", (message) => {
  try {
    const reply = decodeDhcp(message);
    waiting.get(reply.xid)?.(reply);
  } catch (error) {
    if (!(error instanceof DhcpDecodeError)) throw error;
  }
});

function macOf(index: number): string {
  const low = index.toString(16).padStart(4, "0");
  return `${MAC_PREFIX}:${low.slice(0, 2)}:${low.slice(2)}`;
}

function pxePacket(
  address: string,
  type: number,
  mac: string,
  xid: number,
  extra: readonly ReturnType<typeof option>[],
): Buffer {
  const chaddr = Buffer.concat([Buffer.from(mac.replaceAll(":", ""), "hex"), Buffer.alloc(10)]);
  return encodeDhcp({
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid,
    secs: 0,
    flags: type === DhcpMessageType.discover ? FLAG_BROADCAST : 0,
    ciaddr: type === DhcpMessageType.discover ? "0.0.0.0" : address,
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: "0.0.0.0",
    chaddr,
    sname: "",
    file: "",
    options: new Map([
      option("messageType", type),
      option("vendorClassIdentifier", OVMF_VENDOR_CLASS),
      option("clientArchitecture", [OVMF_ARCH]),
      ...extra,
    ]),
  });
}

/** Sends `packet` to `target:port` until a reply of `wanted` type arrives, per `timeouts`. */
async function exchange(
  xid: number,
  packet: Buffer,
  target: string,
  port: number,
  wanted: number,
  timeouts: readonly number[],
  counter: RetryCounter,
): Promise<DhcpPacket> {
  for (const [attempt, timeoutMs] of timeouts.entries()) {
    if (attempt > 0) {
      counter.retries++;
      counter.reasons.push(`no reply (DHCP type ${wanted}) from ${target}:${port}`);
    }
    const reply = await new Promise<DhcpPacket | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      waiting.set(xid, (candidate) => {
        if (messageType(candidate) !== wanted) return;
        clearTimeout(timer);
        resolve(candidate);
      });
      socket.send(packet, port, target);
    });
    waiting.delete(xid);
    if (reply) return reply;
  }
  throw new Error(`no reply (DHCP type ${wanted}) from ${target}:${port}`);
}

/** GET `url`, counting (and dropping) the body; rejects unless 200 with every byte. */
function httpGet(
  url: string,
  localAddress: string,
  keep: boolean,
): Promise<{ bytes: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      url,
      { timeout: HTTP_ATTEMPT_TIMEOUT_MS, localAddress },
      (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`${url}: HTTP ${response.statusCode}`));
          return;
        }
        const expected = Number(response.headers["content-length"]);
        let bytes = 0;
        const kept: Buffer[] = [];
        response.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          if (keep) kept.push(chunk);
        });
        response.on("end", () =>
          bytes === expected
            ? resolve({ bytes, body: Buffer.concat(kept).toString("utf8") })
            : reject(new Error(`${url}: ${bytes} of ${expected} bytes`)),
        );
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`${url}: timed out`)));
    request.on("error", reject);
  });
}

/**
 * OVMF's first RRQ only asks the size (tsize) and stops after the OACK with ERROR 8 "User
 * aborted the transfer" (edk2 NetworkPkg Mtftp4Dxe/Mtftp6Dxe: Mtftp*SendError with
 * ..._ERRORCODE_REQUEST_DENIED = 8; dnsmasq logs it from UEFI clients as "error 8 User aborted
 * the transfer received from …"). Resolves with the size the server announced; the RRQ repeats
 * every second like tftpGet's.
 */
function sizeProbe(
  server: { address: string; port: number },
  filename: string,
  bindAddress: string,
): Promise<number> {
  const socket = dgram.createSocket("udp4");
  const request = encodeTftp({
    type: "RRQ",
    filename,
    mode: "octet",
    options: [
      { name: "tsize", value: "0" },
      { name: "blksize", value: OVMF_BLKSIZE },
      { name: "windowsize", value: OVMF_WINDOWSIZE },
    ],
  });
  return new Promise<number>((resolve, reject) => {
    const repeat = setInterval(
      () => socket.send(request, server.port, server.address),
      PROBE_RETRY_MS,
    );
    const timer = setTimeout(
      () => finish(new Error(`TFTP size probe of ${filename}: no OACK`)),
      PROBE_ATTEMPT_TIMEOUT_MS,
    );
    const finish = (outcome: number | Error) => {
      clearInterval(repeat);
      clearTimeout(timer);
      socket.close();
      if (typeof outcome === "number") resolve(outcome);
      else reject(outcome);
    };
    socket.on("message", (bytes, from) => {
      const packet = decodeTftp(bytes);
      if (packet.type === "OACK") {
        const size = Number(packet.options.find((o) => o.name.toLowerCase() === "tsize")?.value);
        socket.send(
          encodeError(TFTP_ERROR_REQUEST_DENIED, EDK2_ABORT_TEXT),
          from.port,
          from.address,
          () => finish(size),
        );
      } else if (packet.type === "ERROR") {
        finish(new Error(`TFTP size probe of ${filename}: ${packet.message}`));
      }
    });
    socket.bind(0, bindAddress, () => socket.send(request, server.port, server.address));
  });
}

async function withAttempts<T>(
  attempts: number,
  counter: RetryCounter,
  step: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (attempt >= attempts) throw error;
      counter.retries++;
      counter.reasons.push(error instanceof Error ? error.message : String(error));
    }
  }
}

async function bootOne(index: number, started: number): Promise<ClientResult> {
  const mac = macOf(index);
  const address = config.clientAddresses[index]!;
  const counter: RetryCounter = { retries: 0, reasons: [] };
  let bytes = 0;
  try {
    const xid = XID_BASE + index;
    const offer = await exchange(
      xid,
      pxePacket(address, DhcpMessageType.discover, mac, xid, []),
      "255.255.255.255",
      DhcpPort.server,
      DhcpMessageType.offer,
      DISCOVER_TIMEOUTS_MS,
      counter,
    );
    const bootServer = readOption(offer, "serverIdentifier") ?? offer.siaddr;
    // PXE 2.1 boot server discovery: the REQUEST names the boot item picked from the OFFER's
    // menu (option 43 sub-option 9 PXE_BOOT_MENU: type, 2 bytes, first) as sub-option 71
    // PXE_BOOT_ITEM (type, layer 0); dnsmasq's proxy OFFER carries a menu, ours a ready file.
    const menu = readOption(offer, "vendorSpecific")?.get(PXE_BOOT_MENU);
    const bootItem = menu
      ? [
          option(
            "vendorSpecific",
            new Map([[PXE_BOOT_ITEM, Buffer.from([menu[0]!, menu[1]!, 0, 0])]]),
          ),
        ]
      : [];
    const ackXid = xid + ACK_XID_OFFSET;
    const ack = await exchange(
      ackXid,
      pxePacket(address, DhcpMessageType.request, mac, ackXid, bootItem),
      bootServer,
      DhcpPort.pxeBootServer,
      DhcpMessageType.ack,
      BOOT_SERVER_TIMEOUTS_MS,
      counter,
    );
    const firstStage = readOption(ack, "bootFileName") ?? ack.file;
    const tftpServer = ack.siaddr !== "0.0.0.0" ? ack.siaddr : bootServer;
    const tftp = { address: tftpServer, port: TFTP_PORT };
    const size = await withAttempts(TFTP_ATTEMPTS, counter, () =>
      sizeProbe(tftp, firstStage, address),
    );
    const image = await withAttempts(TFTP_ATTEMPTS, counter, async () => {
      const got = await tftpGet(tftp, firstStage, {
        options: [
          { name: "blksize", value: OVMF_BLKSIZE },
          { name: "windowsize", value: OVMF_WINDOWSIZE },
        ],
        bindAddress: address,
        timeoutMs: TFTP_ATTEMPT_TIMEOUT_MS,
      });
      if (got.error) throw new Error(`TFTP ${firstStage}: ${got.error.message}`);
      if (got.data.length !== size) {
        throw new Error(`TFTP ${firstStage}: ${got.data.length} bytes, tsize said ${size}`);
      }
      return got.data;
    });
    bytes += image.length;
    const scriptUrl = config.scriptUrl.replace("{mac}", mac);
    const script = await withAttempts(HTTP_ATTEMPTS, counter, () =>
      httpGet(scriptUrl, address, true),
    );
    bytes += script.bytes;
    const urls = [...script.body.matchAll(BOOT_LINE)].map((match) => match[1]!);
    if (urls.length === 0) throw new Error(`${scriptUrl} names no kernel or initrd`);
    for (const url of new Set(urls)) {
      bytes += (await withAttempts(HTTP_ATTEMPTS, counter, () => httpGet(url, address, false)))
        .bytes;
    }
    return {
      mac,
      ok: true,
      bytes,
      ms: performance.now() - started,
      retries: counter.retries,
      retryReasons: counter.reasons,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const ms = performance.now() - started;
    return {
      mac,
      ok: false,
      bytes,
      ms,
      retries: counter.retries,
      retryReasons: counter.reasons,
      error: message,
    };
  }
}

const started = performance.now();
const clients = await Promise.all(
  Array.from({ length: config.count }, (_, index) => bootOne(index, started)),
);
socket.close();
process.stdout.write(`${JSON.stringify({ kind: "result", clients })}\n`);
