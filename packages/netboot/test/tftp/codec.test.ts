import { describe, expect, it } from "vitest";
import { TftpDecodeError, TftpEncodeError } from "../../src/errors.js";
import { decodeTftp } from "../../src/tftp/decode.js";
import {
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeTftp,
  encodingLength,
} from "../../src/tftp/encode.js";
import { TFTP_ERROR_CODES, TftpErrorCode, type TftpPacket } from "../../src/tftp/packet.js";

/** Builds wire bytes from opcode/number fields (2 bytes each) and NUL-terminated strings. */
function wire(...parts: Array<number | string>): Buffer {
  return Buffer.concat(
    parts.map((part) => {
      if (typeof part === "string") return Buffer.from(`${part}\0`, "utf8");
      const field = Buffer.alloc(2);
      field.writeUInt16BE(part);
      return field;
    }),
  );
}

describe("decodeTftp", () => {
  it("decodes the RFC 1350 §5 read request", () => {
    expect(decodeTftp(wire(1, "foo", "octet"))).toEqual({
      type: "RRQ",
      filename: "foo",
      mode: "octet",
      options: [],
    });
  });

  it("decodes the RFC 2347 §2 example request with blksize 1432", () => {
    expect(decodeTftp(wire(1, "foobar", "octet", "blksize", "1432"))).toEqual({
      type: "RRQ",
      filename: "foobar",
      mode: "octet",
      options: [{ name: "blksize", value: "1432" }],
    });
  });

  it("decodes the RFC 2349 §4 tsize request and OACK", () => {
    expect(decodeTftp(wire(1, "boot.img", "octet", "tsize", "0"))).toMatchObject({
      options: [{ name: "tsize", value: "0" }],
    });
    expect(decodeTftp(wire(6, "tsize", "673312"))).toEqual({
      type: "OACK",
      options: [{ name: "tsize", value: "673312" }],
    });
  });

  it("decodes the RFC 7440 windowsize request with other options in the client's order", () => {
    const packet = decodeTftp(
      wire(1, "ipxe.efi", "octet", "blksize", "1468", "windowsize", "4", "timeout", "3"),
    );
    expect(packet).toMatchObject({
      options: [
        { name: "blksize", value: "1468" },
        { name: "windowsize", value: "4" },
        { name: "timeout", value: "3" },
      ],
    });
  });

  it("decodes a write request, DATA, ACK and ERROR", () => {
    expect(decodeTftp(wire(2, "up", "netascii"))).toMatchObject({ type: "WRQ", filename: "up" });
    const data = decodeTftp(Buffer.concat([wire(3, 7), Buffer.from([1, 2, 3])]));
    expect(data).toEqual({ type: "DATA", block: 7, data: Buffer.from([1, 2, 3]) });
    expect(decodeTftp(wire(4, 65535))).toEqual({ type: "ACK", block: 65535 });
    expect(decodeTftp(wire(5, 1, "File not found"))).toEqual({
      type: "ERROR",
      code: 1,
      message: "File not found",
    });
  });

  it("accepts NUL padding after the last option, as some PXE ROMs send", () => {
    const padded = Buffer.concat([wire(1, "pxelinux.0", "octet", "tsize", "0"), Buffer.alloc(5)]);
    expect(decodeTftp(padded)).toMatchObject({ options: [{ name: "tsize", value: "0" }] });
  });

  it("takes an ERROR message without its terminator and ignores bytes after an ACK", () => {
    const unterminated = Buffer.concat([wire(5, 0), Buffer.from("oops")]);
    expect(decodeTftp(unterminated)).toMatchObject({ message: "oops" });
    expect(decodeTftp(Buffer.concat([wire(4, 3), Buffer.alloc(2)]))).toEqual({
      type: "ACK",
      block: 3,
    });
  });

  it("decodes from a view into a larger buffer", () => {
    const outer = Buffer.concat([Buffer.from([9, 9, 9]), wire(4, 42)]);
    expect(decodeTftp(outer.subarray(3))).toEqual({ type: "ACK", block: 42 });
  });

  it.each([
    ["an empty packet", Buffer.alloc(0), /shorter than an opcode/],
    ["one byte", Buffer.from([0]), /shorter than an opcode/],
    ["opcode 0", wire(0, 1), /unknown opcode 0/],
    ["opcode 7", wire(7, 1), /unknown opcode 7/],
    ["a request without a filename", wire(1), /no filename/],
    ["a request without a mode", wire(1, "file"), /no transfer mode/],
    [
      "an unterminated filename",
      Buffer.concat([wire(1), Buffer.from("abc")]),
      /not NUL-terminated/,
    ],
    ["an option without a value", wire(1, "f", "octet", "blksize"), /has no value/],
    ["an option with an empty name", wire(1, "f", "octet", "", "1"), /empty name/],
    ["a DATA without a block number", Buffer.from([0, 3, 1]), /no block number/],
    ["an ACK without a block number", Buffer.from([0, 4]), /no block number/],
    ["an ERROR without a code", Buffer.from([0, 5, 0]), /no block number or code/],
  ])("refuses %s with TftpDecodeError", (_name, bytes, message) => {
    expect(() => decodeTftp(bytes)).toThrow(TftpDecodeError);
    expect(() => decodeTftp(bytes)).toThrow(message);
  });
});

describe("encodeTftp", () => {
  const packets: TftpPacket[] = [
    { type: "RRQ", filename: "ipxe.efi", mode: "octet", options: [] },
    {
      type: "RRQ",
      filename: "dir/undionly.kpxe",
      mode: "octet",
      options: [
        { name: "tsize", value: "0" },
        { name: "blksize", value: "1468" },
        { name: "windowsize", value: "16" },
      ],
    },
    { type: "WRQ", filename: "x", mode: "netascii", options: [] },
    { type: "DATA", block: 65535, data: Buffer.from("hello") },
    { type: "DATA", block: 0, data: Buffer.alloc(0) },
    { type: "ACK", block: 0 },
    { type: "ERROR", code: TftpErrorCode.OptionsRefused, message: "no" },
    { type: "OACK", options: [{ name: "blksize", value: "1432" }] },
  ];

  it.each(packets)("round-trips a $type packet and predicts its length", (packet) => {
    const bytes = encodeTftp(packet);
    expect(bytes.length).toBe(encodingLength(packet));
    expect(decodeTftp(bytes)).toEqual(packet);
  });

  it("frames the RFC 2347 OACK example byte for byte", () => {
    expect(encodeOack([{ name: "blksize", value: "1432" }])).toEqual(wire(6, "blksize", "1432"));
  });

  it("frames DATA, ACK and ERROR as RFC 1350 §5 draws them", () => {
    expect(encodeData(1, Buffer.from([0xaa]))).toEqual(Buffer.from([0, 3, 0, 1, 0xaa]));
    expect(encodeAck(258)).toEqual(Buffer.from([0, 4, 1, 2]));
    expect(encodeError(TftpErrorCode.AccessViolation, "no")).toEqual(wire(5, 2, "no"));
  });

  it("refuses fields that cannot be framed", () => {
    expect(() => encodeAck(65536)).toThrow(TftpEncodeError);
    expect(() => encodeAck(-1)).toThrow(TftpEncodeError);
    expect(() => encodeError(1, "a\0b")).toThrow(TftpEncodeError);
  });
});

describe("TFTP error code table", () => {
  it("holds RFC 1350's codes 0–7 and RFC 2347's code 8, named by meaning", () => {
    expect(TFTP_ERROR_CODES.map((entry) => entry.code)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(TftpErrorCode.FileNotFound).toBe(1);
    expect(TftpErrorCode.UnknownTransferId).toBe(5);
    expect(TftpErrorCode.OptionsRefused).toBe(8);
  });
});
