/**
 * A client's DHCP packet for tests, the fixed BOOTP header written out once: a BOOTREQUEST over
 * Ethernet (RFC 2131 §2, figure 1) with no relay hop, every address 0.0.0.0 and no server name
 * or boot file, as PXE firmware sends its DISCOVER. A test sets only the fields it is about.
 */
import {
  BootOp,
  ETHERNET_ADDRESS_LENGTH,
  HTYPE_ETHERNET,
  type DhcpPacket,
} from "../../src/index.js";

/** chaddr is 16 bytes; an Ethernet MAC fills the first 6 (RFC 2131 §2). */
const CHADDR_BYTES = 16;
/** The lab's first machine (52:54:00:77:00:01), the MAC the captures and most tests use. */
export const LAB_MAC = Buffer.from("525400770001", "hex");

/** `mac` padded to the 16 bytes of chaddr. */
export function chaddrOf(mac: Buffer): Buffer {
  return Buffer.concat([mac, Buffer.alloc(CHADDR_BYTES - mac.length)]);
}

export function clientPacket(fields: Partial<DhcpPacket> = {}): DhcpPacket {
  return {
    op: BootOp.request,
    htype: HTYPE_ETHERNET,
    hlen: ETHERNET_ADDRESS_LENGTH,
    hops: 0,
    xid: 0,
    secs: 0,
    flags: 0,
    ciaddr: "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: "0.0.0.0",
    chaddr: chaddrOf(LAB_MAC),
    sname: "",
    file: "",
    options: new Map(),
    ...fields,
  };
}
