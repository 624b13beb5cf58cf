import { describe, expect, it } from "vitest";
import { MagicPacketError } from "../src/errors.js";
import { parseMagicPacket } from "../src/magic-packet.js";
import { magicPacket } from "./support/send-wol.js";

describe("parseMagicPacket", () => {
  it("reads the MAC of a plain 102-byte magic packet", () => {
    expect(parseMagicPacket(magicPacket("52:54:00:AB:00:01"))).toEqual({
      mac: "52:54:00:ab:00:01",
    });
  });

  it("reads a 6-byte and a 4-byte SecureOn password", () => {
    expect(parseMagicPacket(magicPacket("52:54:00:ab:00:01", "a1b2c3d4e5f6"))).toEqual({
      mac: "52:54:00:ab:00:01",
      password: "a1b2c3d4e5f6",
    });
    expect(parseMagicPacket(magicPacket("52:54:00:ab:00:01", "c0a80001")).password).toBe(
      "c0a80001",
    );
  });

  it("finds the sequence after a prefix, as some senders add a header", () => {
    const packet = Buffer.concat([Buffer.from("hdr:"), magicPacket("52:54:00:ab:00:02")]);
    expect(parseMagicPacket(packet).mac).toBe("52:54:00:ab:00:02");
  });

  it("refuses a packet with only 15 repetitions or a changed repetition", () => {
    const short = magicPacket("52:54:00:ab:00:01").subarray(0, 6 + 15 * 6);
    expect(() => parseMagicPacket(short)).toThrow(MagicPacketError);
    const corrupted = magicPacket("52:54:00:ab:00:01");
    corrupted[6 + 7 * 6] = 0x53;
    expect(() => parseMagicPacket(corrupted)).toThrow(/no Wake-on-LAN magic sequence/);
  });

  it("refuses empty payloads and a run of 0xFF, whose 'MAC' would be the broadcast address", () => {
    expect(() => parseMagicPacket(Buffer.alloc(0))).toThrow(MagicPacketError);
    expect(() => parseMagicPacket(Buffer.alloc(200, 0xff))).toThrow(MagicPacketError);
  });
});
