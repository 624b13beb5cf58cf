/**
 * The TFTP parser: bytes in, a packet out, or a TftpDecodeError (and nothing else) whatever the
 * input. It checks syntax only; what a packet means for a transfer is the engine's business.
 */
import { TftpDecodeError } from "../errors.js";
import {
  TFTP_HEADER_LENGTH,
  TftpOpcode,
  type TftpOption,
  type TftpPacket,
  type TftpPacketType,
} from "./packet.js";

const OPCODE_LENGTH = 2;
const NUL = 0;
// Filenames and option strings are ASCII by RFC; Buffer's UTF-8 decoding maps any other byte
// sequence to U+FFFD instead of throwing, so odd names reach the resolver and are refused there.

const TYPE_BY_OPCODE = new Map<number, TftpPacketType>(
  Object.entries(TftpOpcode).map(([name, code]) => [code, name as TftpPacketType]),
);

export function decodeTftp(bytes: Uint8Array): TftpPacket {
  if (!(bytes instanceof Uint8Array)) throw new TftpDecodeError("input is not a byte array");
  if (bytes.length < OPCODE_LENGTH) {
    throw new TftpDecodeError(`${bytes.length} bytes is shorter than an opcode`);
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const opcode = buffer.readUInt16BE(0);
  const type = TYPE_BY_OPCODE.get(opcode);
  switch (type) {
    case "RRQ":
    case "WRQ": {
      const strings = readStrings(buffer, OPCODE_LENGTH);
      const [filename, mode, ...rest] = strings;
      if (filename === undefined) throw new TftpDecodeError(`${type} has no filename`);
      if (mode === undefined) throw new TftpDecodeError(`${type} has no transfer mode`);
      return { type, filename, mode, options: toOptions(rest, type) };
    }
    case "DATA":
      requireHeader(bytes, type);
      return {
        type,
        block: buffer.readUInt16BE(OPCODE_LENGTH),
        data: bytes.subarray(TFTP_HEADER_LENGTH),
      };
    case "ACK":
      // Trailing bytes after the block number are ignored: some embedded stacks pad ACKs.
      requireHeader(bytes, type);
      return { type, block: buffer.readUInt16BE(OPCODE_LENGTH) };
    case "ERROR": {
      requireHeader(bytes, type);
      const end = buffer.indexOf(NUL, TFTP_HEADER_LENGTH);
      // A missing terminator is tolerated: the message is diagnostic text, not protocol.
      const message = buffer.toString("utf8", TFTP_HEADER_LENGTH, end === -1 ? undefined : end);
      return { type, code: buffer.readUInt16BE(OPCODE_LENGTH), message };
    }
    case "OACK":
      return { type, options: toOptions(readStrings(buffer, OPCODE_LENGTH), type) };
    case undefined:
      throw new TftpDecodeError(`unknown opcode ${opcode}`);
  }
}

function requireHeader(bytes: Uint8Array, type: TftpPacketType): void {
  if (bytes.length < TFTP_HEADER_LENGTH) {
    throw new TftpDecodeError(`${type} of ${bytes.length} bytes has no block number or code`);
  }
}

/**
 * NUL-terminated strings from `offset` to the end. Every string must be terminated (RFC 1350
 * §5, RFC 2347 §2); a run of NULs at the very end is padding some PXE ROMs add, not strings.
 */
function readStrings(bytes: Buffer, offset: number): string[] {
  const strings: string[] = [];
  let position = offset;
  while (position < bytes.length) {
    const end = bytes.indexOf(NUL, position);
    if (end === -1) {
      throw new TftpDecodeError(`string at byte ${position} is not NUL-terminated`);
    }
    if (end === position && bytes.subarray(position).every((byte) => byte === NUL)) break;
    strings.push(bytes.toString("utf8", position, end));
    position = end + 1;
  }
  return strings;
}

function toOptions(strings: readonly string[], type: TftpPacketType): TftpOption[] {
  if (strings.length % 2 !== 0) {
    throw new TftpDecodeError(`${type} option "${strings.at(-1)}" has no value`);
  }
  const options: TftpOption[] = [];
  for (let index = 0; index < strings.length; index += 2) {
    const name = strings[index] as string;
    if (name === "") throw new TftpDecodeError(`${type} has an option with an empty name`);
    options.push({ name, value: strings[index + 1] as string });
  }
  return options;
}
