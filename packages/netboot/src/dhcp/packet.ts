/**
 * The DHCP message codec (RFC 2131 §2, RFC 2132 §2-§3, RFC 3396): bytes in, struct out, and
 * back. `decodeDhcp` checks the structure (fixed header, magic cookie, option lengths, option
 * overload) and keeps each option's data raw; typed values come from the option table
 * (options.ts), so a malformed option only fails when someone reads it. Pure: no I/O.
 */
import { DhcpDecodeError, DhcpEncodeError } from "../errors.js";
import {
  HeaderOffset,
  HeaderSize,
  MAGIC_COOKIE,
  MAX_OPTION_LENGTH,
  MIN_PACKET_SIZE,
  OptionCode,
  Overload,
} from "./constants.js";
import { decodeIpv4, writeIpv4 } from "./option-types.js";

export interface DhcpPacket {
  readonly op: number;
  readonly htype: number;
  readonly hlen: number;
  readonly hops: number;
  readonly xid: number;
  readonly secs: number;
  readonly flags: number;
  readonly ciaddr: string;
  readonly yiaddr: string;
  readonly siaddr: string;
  readonly giaddr: string;
  /** All 16 octets of the client hardware address field; the first `hlen` are the address. */
  readonly chaddr: Buffer;
  /** Server host name, up to the first NUL; "" when option overload used the field for options. */
  readonly sname: string;
  /** Boot file name, up to the first NUL; "" when option overload used the field for options. */
  readonly file: string;
  /**
   * Option data by code, in order of first appearance. Repeated codes are concatenated
   * (RFC 3396 §7); option 52 itself is consumed by the decoder and never appears here.
   */
  readonly options: ReadonlyMap<number, Buffer>;
}

const OPTION_HEADER_LENGTH = 2;

function readOptionsArea(
  bytes: Buffer,
  start: number,
  end: number,
  into: Map<number, Buffer[]>,
): void {
  let at = start;
  while (at < end) {
    const code = bytes[at] as number;
    if (code === OptionCode.end) return;
    if (code === OptionCode.pad) {
      at++;
      continue;
    }
    if (at + 1 >= end) throw new DhcpDecodeError(`option ${code} has no length octet`, at);
    const length = bytes[at + 1] as number;
    const dataStart = at + OPTION_HEADER_LENGTH;
    if (dataStart + length > end)
      throw new DhcpDecodeError(
        `option ${code} claims ${length} octets but only ${end - dataStart} remain`,
        at,
      );
    const parts = into.get(code) ?? [];
    parts.push(bytes.subarray(dataStart, dataStart + length));
    into.set(code, parts);
    at = dataStart + length;
  }
  // RFC 2131 §3 requires an END option; PXE ROMs in the field end some packets without one,
  // so reaching the end of the area is accepted (docs/pxe.md, known deviations).
}

function readNulTerminated(bytes: Buffer, start: number, size: number): string {
  const field = bytes.subarray(start, start + size);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? size : nul).toString("latin1");
}

/** Decodes a DHCP message. Throws DhcpDecodeError, and nothing else, for any malformed input. */
export function decodeDhcp(bytes: Uint8Array): DhcpPacket {
  // One copy of the whole datagram, so the packet never aliases the caller's (possibly reused)
  // receive buffer; options and chaddr are views into it (one allocation, not one per option).
  const buffer = Buffer.from(bytes);
  if (buffer.length < HeaderOffset.options)
    throw new DhcpDecodeError(
      `${buffer.length} octets is shorter than a DHCP header with magic cookie (${HeaderOffset.options})`,
      buffer.length,
    );
  if (!buffer.subarray(HeaderOffset.cookie, HeaderOffset.options).equals(MAGIC_COOKIE))
    throw new DhcpDecodeError(
      "no DHCP magic cookie (plain BOOTP is not supported)",
      HeaderOffset.cookie,
    );
  const hlen = buffer.readUInt8(HeaderOffset.hlen);
  if (hlen > HeaderSize.chaddr)
    throw new DhcpDecodeError(
      `hlen ${hlen} exceeds the ${HeaderSize.chaddr}-octet chaddr field`,
      HeaderOffset.hlen,
    );

  const collected = new Map<number, Buffer[]>();
  readOptionsArea(buffer, HeaderOffset.options, buffer.length, collected);
  const overloadParts = collected.get(OptionCode.overload);
  collected.delete(OptionCode.overload);
  let overload = 0;
  if (overloadParts !== undefined) {
    const data = Buffer.concat(overloadParts);
    if (
      data.length !== 1 ||
      (data[0] as number) < Overload.file ||
      (data[0] as number) > Overload.both
    )
      throw new DhcpDecodeError(
        `option 52 (overload) must be one octet 1-3, got ${data.toString("hex")}`,
        HeaderOffset.options,
      );
    overload = data[0] as number;
  }
  // RFC 2131 §4.1: options continue in `file`, then in `sname`.
  const fileHoldsOptions = (overload & Overload.file) !== 0;
  const snameHoldsOptions = (overload & Overload.sname) !== 0;
  if (fileHoldsOptions)
    readOptionsArea(buffer, HeaderOffset.file, HeaderOffset.file + HeaderSize.file, collected);
  if (snameHoldsOptions)
    readOptionsArea(buffer, HeaderOffset.sname, HeaderOffset.sname + HeaderSize.sname, collected);

  const options = new Map<number, Buffer>();
  for (const [code, parts] of collected)
    options.set(code, parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));

  return {
    op: buffer.readUInt8(HeaderOffset.op),
    htype: buffer.readUInt8(HeaderOffset.htype),
    hlen,
    hops: buffer.readUInt8(HeaderOffset.hops),
    xid: buffer.readUInt32BE(HeaderOffset.xid),
    secs: buffer.readUInt16BE(HeaderOffset.secs),
    flags: buffer.readUInt16BE(HeaderOffset.flags),
    ciaddr: decodeIpv4(buffer, HeaderOffset.ciaddr),
    yiaddr: decodeIpv4(buffer, HeaderOffset.yiaddr),
    siaddr: decodeIpv4(buffer, HeaderOffset.siaddr),
    giaddr: decodeIpv4(buffer, HeaderOffset.giaddr),
    chaddr: buffer.subarray(HeaderOffset.chaddr, HeaderOffset.chaddr + HeaderSize.chaddr),
    sname: snameHoldsOptions ? "" : readNulTerminated(buffer, HeaderOffset.sname, HeaderSize.sname),
    file: fileHoldsOptions ? "" : readNulTerminated(buffer, HeaderOffset.file, HeaderSize.file),
    options,
  };
}

function optionsLength(options: ReadonlyMap<number, Buffer>): number {
  let length = 0;
  for (const data of options.values()) {
    const chunks = Math.max(1, Math.ceil(data.length / MAX_OPTION_LENGTH));
    length += chunks * OPTION_HEADER_LENGTH + data.length;
  }
  return length + 1; // END
}

/** The size of `encodeDhcp(packet)` in octets, padding included. */
export function encodingLength(packet: DhcpPacket): number {
  return Math.max(MIN_PACKET_SIZE, HeaderOffset.options + optionsLength(packet.options));
}

function checkField(value: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new DhcpEncodeError(`${name} must be an integer from 0 to ${max}, got ${value}`);
  return value;
}

function writeText(
  target: Buffer,
  offset: number,
  size: number,
  value: string,
  name: string,
): void {
  // latin1: one octet per character. One octet stays NUL: firmware reads these as C strings.
  if (value.length >= size)
    throw new DhcpEncodeError(
      `${name} is ${value.length} octets; the field holds at most ${size - 1}`,
    );
  target.write(value, offset, value.length, "latin1");
}

/**
 * Encodes a DHCP message: fixed header, magic cookie, the options in map order (values longer
 * than 255 octets split into repeated options, RFC 3396), END, then zero padding up to the
 * 300-octet BOOTP minimum. Never uses option overload. Throws DhcpEncodeError for values that
 * do not fit their fields.
 */
export function encodeDhcp(packet: DhcpPacket): Buffer {
  // From Node's shared pool (one slab per many replies, not an allocation each), then zeroed:
  // padding and unused header fields must be 0 on the wire.
  const out = Buffer.allocUnsafe(encodingLength(packet)).fill(0);
  out.writeUInt8(checkField(packet.op, 0xff, "op"), HeaderOffset.op);
  out.writeUInt8(checkField(packet.htype, 0xff, "htype"), HeaderOffset.htype);
  out.writeUInt8(checkField(packet.hlen, HeaderSize.chaddr, "hlen"), HeaderOffset.hlen);
  out.writeUInt8(checkField(packet.hops, 0xff, "hops"), HeaderOffset.hops);
  out.writeUInt32BE(checkField(packet.xid, 0xffffffff, "xid"), HeaderOffset.xid);
  out.writeUInt16BE(checkField(packet.secs, 0xffff, "secs"), HeaderOffset.secs);
  out.writeUInt16BE(checkField(packet.flags, 0xffff, "flags"), HeaderOffset.flags);
  writeIpv4(out, HeaderOffset.ciaddr, packet.ciaddr);
  writeIpv4(out, HeaderOffset.yiaddr, packet.yiaddr);
  writeIpv4(out, HeaderOffset.siaddr, packet.siaddr);
  writeIpv4(out, HeaderOffset.giaddr, packet.giaddr);
  if (packet.chaddr.length > HeaderSize.chaddr)
    throw new DhcpEncodeError(
      `chaddr is ${packet.chaddr.length} octets; the field holds ${HeaderSize.chaddr}`,
    );
  packet.chaddr.copy(out, HeaderOffset.chaddr);
  writeText(out, HeaderOffset.sname, HeaderSize.sname, packet.sname, "sname");
  writeText(out, HeaderOffset.file, HeaderSize.file, packet.file, "file");
  MAGIC_COOKIE.copy(out, HeaderOffset.cookie);

  let at = HeaderOffset.options;
  for (const [code, data] of packet.options) {
    checkField(code, OptionCode.end, "option code");
    if (code === OptionCode.pad || code === OptionCode.end || code === OptionCode.overload)
      throw new DhcpEncodeError(`option ${code} is structural; the encoder writes it itself`);
    let offset = 0;
    do {
      const chunk = data.subarray(offset, offset + MAX_OPTION_LENGTH);
      out.writeUInt8(code, at);
      out.writeUInt8(chunk.length, at + 1);
      chunk.copy(out, at + OPTION_HEADER_LENGTH);
      at += OPTION_HEADER_LENGTH + chunk.length;
      offset += MAX_OPTION_LENGTH;
    } while (offset < data.length);
  }
  out.writeUInt8(OptionCode.end, at);
  return out;
}
