import { isIPv4 } from "node:net";
import { describe, expect, it } from "vitest";
import { DhcpEncodeError, encodeIpv4, macFromBytes } from "../../src/index.js";

describe("encodeIpv4 (the allocation-free writer behind every reply's address fields)", () => {
  it.each(["0.0.0.0", "10.77.0.2", "255.255.255.255", "192.168.1.10", "1.2.3.4"])(
    "encodes %s",
    (address) => {
      expect([...encodeIpv4(address)]).toEqual(address.split(".").map(Number));
    },
  );

  it.each([
    "",
    "1.2.3",
    "1.2.3.4.5",
    "1..2.3",
    ".1.2.3",
    "1.2.3.4.",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.1000",
    "a.b.c.d",
    " 1.2.3.4",
    "1.2.3.4 ",
    "::1",
    "1.2.3.-4",
  ])("refuses %j, as net.isIPv4 does", (address) => {
    expect(isIPv4(address)).toBe(false);
    expect(() => encodeIpv4(address)).toThrow(DhcpEncodeError);
  });
});

describe("macFromBytes", () => {
  it("writes the canonical lower-case colon form of the first six octets", () => {
    expect(macFromBytes(Buffer.from("525400AB0Cff0000", "hex"))).toBe("52:54:00:ab:0c:ff");
  });
});
