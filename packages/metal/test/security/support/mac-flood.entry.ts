/**
 * Test entry, run inside the attacker's network namespace (`node --import tsx ENTRY CONFIG`):
 * `count` PXE DISCOVERs broadcast to port 67, each from a different made-up MAC (locally
 * administered, RFC 7042 §2.1), as a flooding machine on the LAN would send them.
 */
import dgram from "node:dgram";
import { DhcpPort } from "netboot";
import { pxeClientPacket } from "../../helpers/pxe-client-packet.js";

interface FloodConfig {
  readonly count: number;
}

/** Locally administered, unicast: never a real NIC's MAC. */
const LOCAL_MAC_PREFIX = [0x02, 0x66];

const config = JSON.parse(process.argv[2] ?? "{}") as FloodConfig;
const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
await new Promise<void>((resolve) => socket.bind(DhcpPort.client, "0.0.0.0", resolve));
socket.setBroadcast(true);

for (let index = 0; index < config.count; index++) {
  const mac = Buffer.from([...LOCAL_MAC_PREFIX, 0, 0, 0, 0]);
  mac.writeUInt32BE(index, 2);
  const discover = pxeClientPacket({ mac, xid: index, type: "discover" });
  await new Promise<void>((resolve, reject) =>
    socket.send(discover, DhcpPort.server, "255.255.255.255", (error) =>
      error ? reject(error) : resolve(),
    ),
  );
}
socket.close();
