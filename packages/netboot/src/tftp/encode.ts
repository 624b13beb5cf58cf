/**
 * The TFTP framer: packets in, bytes out. `encodingLength(packet)` says how many bytes
 * `encodeTftp(packet)` will produce, as in dns-packet.
 */
import { TftpEncodeError } from "../errors.js";
import {
  MAX_UINT16,
  TFTP_HEADER_LENGTH,
  TftpOpcode,
  type TftpOption,
  type TftpPacket,
} from "./packet.js";

const OPCODE_LENGTH = 2;
const NUL_LENGTH = 1;

export function encodingLength(packet: TftpPacket): number {
  switch (packet.type) {
    case "RRQ":
    case "WRQ":
      return (
        OPCODE_LENGTH +
        stringLength(packet.filename) +
        stringLength(packet.mode) +
        optionsLength(packet.options)
      );
    case "DATA":
      return TFTP_HEADER_LENGTH + packet.data.length;
    case "ACK":
      return TFTP_HEADER_LENGTH;
    case "ERROR":
      return TFTP_HEADER_LENGTH + stringLength(packet.message);
    case "OACK":
      return OPCODE_LENGTH + optionsLength(packet.options);
  }
}

export function encodeTftp(packet: TftpPacket): Buffer {
  const bytes = Buffer.alloc(encodingLength(packet));
  bytes.writeUInt16BE(TftpOpcode[packet.type], 0);
  switch (packet.type) {
    case "RRQ":
    case "WRQ": {
      let offset = writeString(bytes, OPCODE_LENGTH, packet.filename);
      offset = writeString(bytes, offset, packet.mode);
      writeOptions(bytes, offset, packet.options);
      break;
    }
    case "DATA":
      bytes.writeUInt16BE(uint16(packet.block, "block number"), OPCODE_LENGTH);
      bytes.set(packet.data, TFTP_HEADER_LENGTH);
      break;
    case "ACK":
      bytes.writeUInt16BE(uint16(packet.block, "block number"), OPCODE_LENGTH);
      break;
    case "ERROR":
      bytes.writeUInt16BE(uint16(packet.code, "error code"), OPCODE_LENGTH);
      writeString(bytes, TFTP_HEADER_LENGTH, packet.message);
      break;
    case "OACK":
      writeOptions(bytes, OPCODE_LENGTH, packet.options);
      break;
  }
  return bytes;
}

export function encodeData(block: number, data: Uint8Array): Buffer {
  return encodeTftp({ type: "DATA", block, data });
}

export function encodeAck(block: number): Buffer {
  return encodeTftp({ type: "ACK", block });
}

export function encodeError(code: number, message: string): Buffer {
  return encodeTftp({ type: "ERROR", code, message });
}

export function encodeOack(options: readonly TftpOption[]): Buffer {
  return encodeTftp({ type: "OACK", options });
}

function uint16(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_UINT16) {
    throw new TftpEncodeError(`${what} ${value} does not fit in 16 bits`);
  }
  return value;
}

function stringLength(value: string): number {
  return Buffer.byteLength(value, "utf8") + NUL_LENGTH;
}

function optionsLength(options: readonly TftpOption[]): number {
  return options.reduce(
    (sum, option) => sum + stringLength(option.name) + stringLength(option.value),
    0,
  );
}

function writeString(bytes: Buffer, offset: number, value: string): number {
  if (value.includes("\0"))
    throw new TftpEncodeError(`string ${JSON.stringify(value)} contains NUL`);
  const written = bytes.write(value, offset, "utf8");
  return offset + written + NUL_LENGTH;
}

function writeOptions(bytes: Buffer, offset: number, options: readonly TftpOption[]): number {
  let position = offset;
  for (const option of options) {
    position = writeString(bytes, position, option.name);
    position = writeString(bytes, position, option.value);
  }
  return position;
}
