import { describe, expect, it } from "vitest";
import { ConfigError, InvalidMacError } from "../../src/errors.js";
import { MAGIC_PACKET_LENGTH, magicPacket } from "../../src/wol/magic-packet.js";

const MAC_HEX = "525400123456";

describe("magicPacket", () => {
  it("is six 0xFF bytes followed by the MAC sixteen times", () => {
    const packet = magicPacket("52-54-00-12-34-56");
    expect(packet.length).toBe(MAGIC_PACKET_LENGTH);
    expect(packet.toString("hex")).toBe("ff".repeat(6) + MAC_HEX.repeat(16));
  });

  it("appends a 6-byte SecureOn password given as text or bytes", () => {
    const expected = "ff".repeat(6) + MAC_HEX.repeat(16) + "0123456789ab";
    expect(magicPacket("52:54:00:12:34:56", "01:23:45:67:89:AB").toString("hex")).toBe(expected);
    expect(
      magicPacket("52:54:00:12:34:56", Uint8Array.of(1, 0x23, 0x45, 0x67, 0x89, 0xab)).toString(
        "hex",
      ),
    ).toBe(expected);
  });

  it("appends a 4-byte SecureOn password", () => {
    const packet = magicPacket("525400123456", "c0-a8-01-01");
    expect(packet.length).toBe(MAGIC_PACKET_LENGTH + 4);
    expect(packet.subarray(MAGIC_PACKET_LENGTH).toString("hex")).toBe("c0a80101");
  });

  it("refuses passwords that are not 4 or 6 bytes of hex and MACs that are not MACs", () => {
    expect(() => magicPacket(MAC_HEX, "01:02:03")).toThrow(ConfigError);
    expect(() => magicPacket(MAC_HEX, "secret")).toThrow(ConfigError);
    expect(() => magicPacket(MAC_HEX, new Uint8Array(5))).toThrow(ConfigError);
    expect(() => magicPacket("52:54:00:12:34")).toThrow(InvalidMacError);
  });
});
