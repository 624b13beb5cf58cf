/**
 * Test entry, run inside a network namespace (`node --import tsx ENTRY CONFIG`): one machine's
 * PXE DISCOVER broadcast as each kind of firmware sends it (BIOS PXE, UEFI PXE, UEFI HTTP boot,
 * iPXE), and its REQUEST to the PXE boot server on port 4011 (ADR 0010), so the leak test learns
 * from the server's own DHCP answers which files and URLs it hands out, and scans the answers
 * themselves. Prints one JSON line per reply:
 * {"kind":"reply","client":"NAME@PORT","bootFile":…,"raw":BASE64}.
 */
import dgram from "node:dgram";
import {
  decodeDhcp,
  DhcpDecodeError,
  DhcpMessageType,
  DhcpPort,
  encodeDhcp,
  option,
  readOption,
  type DhcpPacket,
} from "netboot";

interface ProbeConfig {
  readonly mac: string;
  /** This machine's own address (from the home router), the REQUEST's ciaddr. */
  readonly address: string;
  /** The PXE boot server, where the REQUEST goes. */
  readonly server: string;
  /** How long to collect replies after the last DISCOVER. */
  readonly settleMs: number;
}

interface Client {
  readonly name: string;
  readonly vendorClass: string;
  /** RFC 4578 §2.1 client system architecture. */
  readonly arch: number;
  readonly ipxe: boolean;
}

const CLIENTS: readonly Client[] = [
  { name: "bios-pxe", vendorClass: "PXEClient:Arch:00000:UNDI:002001", arch: 0, ipxe: false },
  { name: "uefi-pxe", vendorClass: "PXEClient:Arch:00007:UNDI:003016", arch: 7, ipxe: false },
  { name: "uefi-http", vendorClass: "HTTPClient:Arch:00016:UNDI:003016", arch: 16, ipxe: false },
  { name: "ipxe", vendorClass: "PXEClient:Arch:00000:UNDI:002001", arch: 0, ipxe: true },
];
const XID_BASE = 0x4c45414b;
/** REQUESTs use xids past the DISCOVERs', so each reply names what it answers. */
const REQUEST_XID_OFFSET = 0x100;
const BROADCAST_FLAG = 0x8000;
const CHADDR_BYTES = 16;

const config = JSON.parse(process.argv[2] ?? "{}") as ProbeConfig;
const mac = Buffer.from(config.mac.replaceAll(":", ""), "hex");

function packet(client: Client, xid: number, request: boolean): Buffer {
  const options = [
    option("messageType", request ? DhcpMessageType.request : DhcpMessageType.discover),
    option("vendorClassIdentifier", client.vendorClass),
    option("clientArchitecture", [client.arch]),
  ];
  // iPXE's user class is the bare string, not RFC 3004's length-prefixed list.
  if (client.ipxe) options.push(option("userClass", { format: "raw", classes: ["iPXE"] }));
  return encodeDhcp({
    op: 1,
    htype: 1,
    hlen: mac.length,
    hops: 0,
    xid,
    secs: 0,
    flags: BROADCAST_FLAG,
    ciaddr: request ? config.address : "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: "0.0.0.0",
    chaddr: Buffer.concat([mac, Buffer.alloc(CHADDR_BYTES - mac.length)]),
    sname: "",
    file: "",
    options: new Map(options),
  });
}

const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
await new Promise<void>((resolve) => socket.bind(DhcpPort.client, "0.0.0.0", resolve));
socket.setBroadcast(true);

socket.on("message", (message) => {
  let reply: DhcpPacket;
  try {
    reply = decodeDhcp(message);
  } catch (error) {
    if (error instanceof DhcpDecodeError) return;
    throw error;
  }
  const index = reply.xid - XID_BASE;
  const request = index >= REQUEST_XID_OFFSET;
  const client = CLIENTS[request ? index - REQUEST_XID_OFFSET : index];
  if (reply.op !== 2 || client === undefined) return;
  const port = request ? DhcpPort.pxeBootServer : DhcpPort.server;
  const bootFile = readOption(reply, "bootFileName") ?? reply.file;
  process.stdout.write(
    `${JSON.stringify({ kind: "reply", client: `${client.name}@${port}`, bootFile, raw: message.toString("base64") })}\n`,
  );
});

const send = (bytes: Buffer, port: number, address: string) =>
  new Promise<void>((resolve, reject) =>
    socket.send(bytes, port, address, (error) => (error ? reject(error) : resolve())),
  );
for (const [index, client] of CLIENTS.entries()) {
  await send(packet(client, XID_BASE + index, false), DhcpPort.server, "255.255.255.255");
  const xid = XID_BASE + REQUEST_XID_OFFSET + index;
  await send(packet(client, xid, true), DhcpPort.pxeBootServer, config.server);
}
await new Promise((resolve) => setTimeout(resolve, config.settleMs));
socket.close();
