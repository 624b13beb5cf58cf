/**
 * Test entry, run inside the attacker's network namespace (`node --import tsx ENTRY CONFIG`):
 * `count` PXE DISCOVERs broadcast to port 67, each from a different made-up MAC (locally
 * administered, RFC 7042 §2.1), as a flooding machine on the LAN would send them.
 */
import dgram from "node:dgram";
import { DhcpMessageType, DhcpPort, encodeDhcp, option } from "netboot";

interface FloodConfig {
  readonly count: number;
}

const BROADCAST_FLAG = 0x8000;
const CHADDR_BYTES = 16;
/** Locally administered, unicast: never a real NIC's MAC. */
const LOCAL_MAC_PREFIX = [0x02, 0x66];

const config = JSON.parse(process.argv[2] ?? "{}") as FloodConfig;
const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
await new Promise<void>((resolve) => socket.bind(DhcpPort.client, "0.0.0.0", resolve));
socket.setBroadcast(true);

for (let index = 0; index < config.count; index++) {
  const mac = Buffer.from([...LOCAL_MAC_PREFIX, 0, 0, 0, 0]);
  mac.writeUInt32BE(index, 2);
  const discover = encodeDhcp({
    op: 1,
    htype: 1,
    hlen: mac.length,
    hops: 0,
    xid: index,
    secs: 0,
    flags: BROADCAST_FLAG,
    ciaddr: "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: "0.0.0.0",
    chaddr: Buffer.concat([mac, Buffer.alloc(CHADDR_BYTES - mac.length)]),
    sname: "",
    file: "",
    options: new Map([
      option("messageType", DhcpMessageType.discover),
      option("vendorClassIdentifier", "PXEClient:Arch:00000:UNDI:002001"),
      option("clientArchitecture", [0]),
    ]),
  });
  await new Promise<void>((resolve, reject) =>
    socket.send(discover, DhcpPort.server, "255.255.255.255", (error) =>
      error ? reject(error) : resolve(),
    ),
  );
}
socket.close();
