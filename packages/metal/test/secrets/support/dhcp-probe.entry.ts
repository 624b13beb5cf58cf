/**
 * Test entry, run inside a network namespace (`node --import tsx ENTRY CONFIG`): one machine's
 * PXE DISCOVER broadcast as each kind of firmware sends it (BIOS PXE, UEFI PXE, UEFI HTTP boot,
 * iPXE), so the leak test learns from the server's own DHCP answers which files and URLs it hands
 * out, and scans the answers themselves. Prints one JSON line per reply:
 * {"kind":"reply","client":NAME,"bootFile":…,"raw":BASE64}.
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
const BROADCAST_FLAG = 0x8000;
const CHADDR_BYTES = 16;

const config = JSON.parse(process.argv[2] ?? "{}") as ProbeConfig;
const mac = Buffer.from(config.mac.replaceAll(":", ""), "hex");

function discover(client: Client, xid: number): Buffer {
  const options = [
    option("messageType", DhcpMessageType.discover),
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
    ciaddr: "0.0.0.0",
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
  const client = CLIENTS[reply.xid - XID_BASE];
  if (reply.op !== 2 || client === undefined) return;
  const bootFile = readOption(reply, "bootFileName") ?? reply.file;
  process.stdout.write(
    `${JSON.stringify({ kind: "reply", client: client.name, bootFile, raw: message.toString("base64") })}\n`,
  );
});

for (const [index, client] of CLIENTS.entries()) {
  const bytes = discover(client, XID_BASE + index);
  await new Promise<void>((resolve, reject) =>
    socket.send(bytes, DhcpPort.server, "255.255.255.255", (error) =>
      error ? reject(error) : resolve(),
    ),
  );
}
await new Promise((resolve) => setTimeout(resolve, config.settleMs));
socket.close();
