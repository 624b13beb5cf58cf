/**
 * Test entry, run inside a network namespace (`node --import tsx ENTRY CONFIG`): the DHCPREQUEST
 * a PXE client broadcasts to its home router after the offer, asking for `address` (option 50,
 * RFC 2132 §9.1) with `PXEClient` in option 60, as the lab's firmware and iPXE send it
 * (docs/security.md "Measured"). metal's proxyDHCP hears it and learns which address this MAC
 * PXE-booted from. Sends one datagram from port 68 and exits; no answer is awaited.
 */
import dgram from "node:dgram";
import { DhcpPort } from "netboot";
import { pxeClientPacket } from "../../helpers/pxe-client-packet.js";

interface RequestConfig {
  readonly mac: string;
  readonly address: string;
}

const XID = 0x50584531;

const config = JSON.parse(process.argv[2] ?? "{}") as RequestConfig;
const mac = Buffer.from(config.mac.replaceAll(":", ""), "hex");
const request = pxeClientPacket({
  mac,
  xid: XID,
  type: "request",
  requestedAddress: config.address,
});

const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
await new Promise<void>((resolve) => socket.bind(DhcpPort.client, "0.0.0.0", resolve));
socket.setBroadcast(true);
await new Promise<void>((resolve, reject) =>
  socket.send(request, DhcpPort.server, "255.255.255.255", (error) =>
    error ? reject(error) : resolve(),
  ),
);
socket.close();
