/**
 * The IANA enumerations and wire constants of DHCP in one place (RFC 2131, RFC 2132, PXE 2.1).
 * Architecture types (option 93) live in ../arch.ts.
 */
import type { DhcpMessageName } from "../events.js";

/** BOOTP `op` (RFC 951, RFC 2131 §2). */
export const BootOp = { request: 1, reply: 2 } as const;

/** `htype` for Ethernet (IANA ARP hardware types), the only one PXE firmware uses. */
export const HTYPE_ETHERNET = 1;
export const ETHERNET_ADDRESS_LENGTH = 6;

/** DHCP message types, option 53 (RFC 2132 §9.6). */
export const DhcpMessageType = {
  discover: 1,
  offer: 2,
  request: 3,
  decline: 4,
  ack: 5,
  nak: 6,
  release: 7,
  inform: 8,
} as const;
export type DhcpMessageTypeCode = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

const MESSAGE_NAMES: ReadonlyMap<number, DhcpMessageName> = new Map(
  Object.entries(DhcpMessageType).map(([name, code]) => [
    code,
    name.toUpperCase() as DhcpMessageName,
  ]),
);

/** The upper-case name used in events and logs ("DISCOVER"), or "UNKNOWN". */
export function messageTypeName(code: number | undefined): DhcpMessageName {
  return (code !== undefined && MESSAGE_NAMES.get(code)) || "UNKNOWN";
}

/** Well-known UDP ports (RFC 2131 §4.1; PXE 2.1 §2.2.1 for the boot server port). */
export const DhcpPort = { server: 67, client: 68, pxeBootServer: 4011 } as const;

/** RFC 2131 §2: the broadcast bit of `flags`. */
export const FLAG_BROADCAST = 0x8000;

/** RFC 2131 §3: the four octets that start the options field of every DHCP message. */
export const MAGIC_COOKIE = Buffer.from([99, 130, 83, 99]);

/** Byte sizes of the fixed BOOTP header (RFC 2131 §2, figure 1). */
export const HeaderSize = {
  chaddr: 16,
  sname: 64,
  file: 128,
  /** op … file: everything before the magic cookie. */
  fixed: 236,
} as const;

/** Byte offsets of the fixed header fields. */
export const HeaderOffset = {
  op: 0,
  htype: 1,
  hlen: 2,
  hops: 3,
  xid: 4,
  secs: 8,
  flags: 10,
  ciaddr: 12,
  yiaddr: 16,
  siaddr: 20,
  giaddr: 24,
  chaddr: 28,
  sname: 44,
  file: 108,
  cookie: 236,
  options: 240,
} as const;

/**
 * RFC 1542 §3.5 and RFC 2131 §2: a BOOTP message is at least 300 octets; some PXE ROMs drop
 * shorter replies, so the encoder pads up to this size.
 */
export const MIN_PACKET_SIZE = 300;

/** Option codes with a structural meaning (RFC 2132 §3.1, §3.2, §9.3). */
export const OptionCode = { pad: 0, end: 255, overload: 52 } as const;
/** Option 52 values (RFC 2132 §9.3): which header fields carry options. */
export const Overload = { file: 1, sname: 2, both: 3 } as const;
/** An option's data is at most 255 octets; longer values are split (RFC 3396). */
export const MAX_OPTION_LENGTH = 255;

/** The vendor class prefixes PXE and UEFI HTTP boot clients send in option 60 (PXE 2.1, UEFI 2.5 §24.7). */
export const VendorClass = { pxe: "PXEClient", http: "HTTPClient" } as const;

/** PXE 2.1 §2.4.1 option 43 sub-options. */
export const PxeSubOption = {
  discoveryControl: 6,
  bootServers: 8,
  bootMenu: 9,
  menuPrompt: 10,
  bootItem: 71,
} as const;

/**
 * Discovery control (PXE sub-option 6) bit 3: "use the boot file in this offer, skip boot
 * server discovery". Without it iPXE waits ~3 s for more offers (LAB-NOTES timings).
 */
export const DISCOVERY_USE_BOOT_FILE = 0x08;

/** iPXE's user class (option 77) as iPXE sends it: the raw string, no RFC 3004 length. */
export const IPXE_USER_CLASS = "iPXE";
