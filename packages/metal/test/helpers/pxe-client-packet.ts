/** The BIOS PXE client packet the test entries broadcast (lab firmware's option 60 and 93). */
import { DhcpMessageType, encodeDhcp, option } from "netboot";

const BROADCAST_FLAG = 0x8000;
const CHADDR_BYTES = 16;

export function pxeClientPacket(request: {
  readonly mac: Buffer;
  readonly xid: number;
  readonly type: "discover" | "request";
  /** Option 50 (RFC 2132 §9.1), for a REQUEST. */
  readonly requestedAddress?: string;
}): Buffer {
  const { mac } = request;
  return encodeDhcp({
    op: 1,
    htype: 1,
    hlen: mac.length,
    hops: 0,
    xid: request.xid,
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
      option("messageType", DhcpMessageType[request.type]),
      ...(request.requestedAddress ? [option("requestedIpAddress", request.requestedAddress)] : []),
      option("vendorClassIdentifier", "PXEClient:Arch:00000:UNDI:002001"),
      option("clientArchitecture", [0]),
    ]),
  });
}
