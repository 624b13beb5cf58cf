/**
 * What the view tests feed the install's event stream: node1's 4011 REQUEST, which names its
 * address, then a TFTP transfer from that address (TFTP carries no MAC), and a sink that keeps
 * what a view writes.
 */
import { PassThrough } from "node:stream";
import { parseMac, type NetbootEvent } from "netboot";

export const NODE1_MAC = "52:54:00:77:00:01";
export const NODE1_PEER = "10.77.0.101";

export function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  return { stream, text: () => chunks.join("") };
}

/** The text a machine chose: its DHCP classes and the file it asks for. */
export interface MachineText {
  readonly vendorClass: string;
  readonly userClass: string | undefined;
  readonly file: string;
}

export function tftpFromNode1(time: number, text: MachineText): NetbootEvent[] {
  return [
    {
      type: "dhcp.request",
      time,
      mac: parseMac(NODE1_MAC),
      xid: 1,
      message: "REQUEST",
      port: 4011,
      from: NODE1_PEER,
      arch: 7,
      vendorClass: text.vendorClass,
      userClass: text.userClass,
      isIpxe: false,
      relay: undefined,
      requestedAddress: undefined,
      clientAddress: undefined,
    },
    {
      type: "tftp.start",
      time,
      peer: NODE1_PEER,
      file: text.file,
      size: 10,
      blksize: 1468,
      windowsize: 1,
    },
  ];
}
