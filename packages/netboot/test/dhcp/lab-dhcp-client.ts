/**
 * Test entry, run inside a network namespace: a scripted PXE client on UDP 68. It sends
 * `garbage` malformed datagrams to port 67, then `count` PXE DISCOVERs (BIOS, PXEClient, one
 * xid and MAC each) at `ratePerSecond`, and times each OFFER whose option 54 is `serverId`.
 * With `relayAddress` it plays a DHCP relay agent instead: giaddr set, listening on port 67.
 * Behind a real relay, it sends from port 68 to `target` 255.255.255.255 like firmware does.
 * Prints one JSON line: {"kind":"result","sent":N,"answered":N,"latenciesMs":[…]}.
 */
import dgram from "node:dgram";
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
} from "../../src/index.js";
import { chaddrOf, clientPacket } from "./client-packet.js";

interface ClientConfig {
  readonly target: string;
  readonly serverId: string;
  readonly garbage: number;
  readonly count: number;
  readonly ratePerSecond: number;
  /** How long to wait for the last replies after the last DISCOVER. */
  readonly settleMs: number;
  /** Act as a relay agent with this address (RFC 2131 §4.1: replies come to giaddr:67). */
  readonly relayAddress?: string;
  /** Set the broadcast flag (default true); the iPXE BIOS ROM and OVMF leave it clear. */
  readonly broadcastFlag?: boolean;
}

const config = JSON.parse(process.argv[2] ?? "{}") as ClientConfig;
const XID_BASE = 0x10000000;
const MAC_PREFIX = Buffer.from("525400aa", "hex");
const GARBAGE_MAX_LENGTH = 600;

function discover(index: number): Buffer {
  const mac = Buffer.alloc(6);
  MAC_PREFIX.copy(mac);
  mac.writeUInt16BE(index % 0x10000, 4);
  return encodeDhcp(
    clientPacket({
      xid: XID_BASE + index,
      flags: config.broadcastFlag === false ? 0 : FLAG_BROADCAST,
      giaddr: config.relayAddress ?? "0.0.0.0",
      chaddr: chaddrOf(mac),
      options: new Map([
        option("messageType", DhcpMessageType.discover),
        option("vendorClassIdentifier", "PXEClient:Arch:00000:UNDI:002001"),
        option("clientArchitecture", [0]),
      ]),
    }),
  );
}

/**
 * Replies wait here while this process is off the CPU: with the default 208 KiB a busy host
 * made the instrument drop OFFERs the server had sent, and count them against the server
 * (bench/dhcp.bench.ts). The kernel caps it at net.core.rmem_max.
 */
const CLIENT_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
const socket = dgram.createSocket({
  type: "udp4",
  reuseAddr: true,
  recvBufferSize: CLIENT_RECEIVE_BUFFER_BYTES,
});
const listenPort = config.relayAddress === undefined ? DhcpPort.client : DhcpPort.server;
await new Promise<void>((resolve) => socket.bind(listenPort, "0.0.0.0", resolve));
socket.setBroadcast(true);

const sentAt = new Map<number, bigint>();
const latenciesMs: number[] = [];
socket.on("message", (message) => {
  const received = process.hrtime.bigint();
  try {
    const reply = decodeDhcp(message);
    if (messageType(reply) !== DhcpMessageType.offer) return;
    if (readOption(reply, "serverIdentifier") !== config.serverId) return;
    const start = sentAt.get(reply.xid);
    if (start === undefined) return;
    sentAt.delete(reply.xid);
    latenciesMs.push(Number(received - start) / 1e6);
  } catch (error) {
    if (!(error instanceof DhcpDecodeError)) throw error;
  }
});

const send = (bytes: Buffer) =>
  new Promise<void>((resolve, reject) =>
    socket.send(bytes, DhcpPort.server, config.target, (error) =>
      error ? reject(error) : resolve(),
    ),
  );

for (let i = 0; i < config.garbage; i++) {
  const length = Math.floor(Math.random() * GARBAGE_MAX_LENGTH);
  await send(Buffer.from(Array.from({ length }, () => Math.floor(Math.random() * 256))));
  // Paced so the server's receive buffer, not its parser, is never what drops them.
  await new Promise((resolve) => setTimeout(resolve, 1));
}

// Paced by timers, not by spinning: a busy client would take CPU from the server it measures.
const intervalMs = 1000 / config.ratePerSecond;
const start = performance.now();
for (let i = 0; i < config.count; i++) {
  const waitMs = start + i * intervalMs - performance.now();
  if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  sentAt.set(XID_BASE + i, process.hrtime.bigint());
  await send(discover(i));
}
await new Promise((resolve) => setTimeout(resolve, config.settleMs));
socket.close();
process.stdout.write(
  `${JSON.stringify({ kind: "result", sent: config.count, answered: latenciesMs.length, latenciesMs })}\n`,
);
