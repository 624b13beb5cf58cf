import { describe, expect, it } from "vitest";
import {
  DhcpDecodeError,
  DhcpEncodeError,
  decodeDhcp,
  encodeDhcp,
  encodingLength,
  MAGIC_COOKIE,
  type DhcpPacket,
} from "../../src/index.js";
import { chaddrOf, clientPacket, LAB_MAC } from "./client-packet.js";
import { allCapturedPayloads } from "./fixtures.js";

const CHADDR = chaddrOf(LAB_MAC);

function packet(overrides: Partial<DhcpPacket> = {}): DhcpPacket {
  return clientPacket({
    xid: 0x3903f326,
    secs: 4,
    flags: 0x8000,
    options: new Map([[53, Buffer.from([1])]]),
    ...overrides,
  });
}

/** A BOOTP header (RFC 2131 figure 1) followed by the cookie and `options`, built byte by byte. */
function rawPacket(options: number[], header: (bytes: Buffer) => void = () => {}): Buffer {
  const bytes = Buffer.alloc(240);
  bytes[0] = 1;
  bytes[1] = 1;
  bytes[2] = 6;
  bytes.writeUInt32BE(0xdeadbeef, 4);
  CHADDR.copy(bytes, 28);
  MAGIC_COOKIE.copy(bytes, 236);
  header(bytes);
  return Buffer.concat([bytes, Buffer.from(options)]);
}

describe("decodeDhcp", () => {
  it("reads every fixed header field at the offsets of RFC 2131 figure 1", () => {
    const bytes = rawPacket([53, 1, 3, 255], (b) => {
      b[3] = 2; // hops
      b.writeUInt16BE(7, 8); // secs
      b.writeUInt16BE(0x8000, 10); // flags
      Buffer.from([10, 0, 0, 5]).copy(b, 12);
      Buffer.from([10, 0, 0, 6]).copy(b, 16);
      Buffer.from([10, 0, 0, 7]).copy(b, 20);
      Buffer.from([10, 0, 0, 8]).copy(b, 24);
      b.write("server-name", 44, "latin1");
      b.write("boot/file.efi", 108, "latin1");
    });
    const decoded = decodeDhcp(bytes);
    expect(decoded).toMatchObject({
      op: 1,
      htype: 1,
      hlen: 6,
      hops: 2,
      xid: 0xdeadbeef,
      secs: 7,
      flags: 0x8000,
      ciaddr: "10.0.0.5",
      yiaddr: "10.0.0.6",
      siaddr: "10.0.0.7",
      giaddr: "10.0.0.8",
      sname: "server-name",
      file: "boot/file.efi",
    });
    expect(decoded.chaddr).toEqual(CHADDR);
    expect(decoded.options).toEqual(new Map([[53, Buffer.from([3])]]));
  });

  it("skips PAD options and stops at END (RFC 2132 §3.1, §3.2)", () => {
    const decoded = decodeDhcp(rawPacket([0, 0, 53, 1, 1, 0, 255, 60, 2, 65, 66]));
    expect([...decoded.options.keys()]).toEqual([53]);
  });

  it("accepts an options field that ends without END", () => {
    expect(decodeDhcp(rawPacket([53, 1, 1])).options.get(53)).toEqual(Buffer.from([1]));
  });

  it("concatenates repeated options in order (RFC 3396 §7)", () => {
    const decoded = decodeDhcp(rawPacket([60, 3, 80, 88, 69, 53, 1, 1, 60, 2, 67, 108, 255]));
    expect(decoded.options.get(60)?.toString()).toBe("PXECl");
    expect([...decoded.options.keys()]).toEqual([60, 53]);
  });

  it("reads overloaded options from file, then sname, and blanks those fields (RFC 2131 §4.1)", () => {
    const bytes = rawPacket([52, 1, 3, 53, 1, 1, 60, 2, 80, 88, 255], (b) => {
      Buffer.from([60, 2, 69, 67, 255]).copy(b, 108); // file
      Buffer.from([60, 3, 108, 105, 101, 67, 1, 9, 255]).copy(b, 44); // sname
    });
    const decoded = decodeDhcp(bytes);
    expect(decoded.options.get(60)?.toString()).toBe("PXEClie");
    expect(decoded.options.get(67)).toEqual(Buffer.from([9]));
    expect(decoded.options.has(52)).toBe(false);
    expect(decoded.file).toBe("");
    expect(decoded.sname).toBe("");
  });

  it("keeps sname as text when only file is overloaded", () => {
    const bytes = rawPacket([52, 1, 1, 255], (b) => {
      Buffer.from([67, 3, 97, 98, 99, 255]).copy(b, 108);
      b.write("host", 44, "latin1");
    });
    const decoded = decodeDhcp(bytes);
    expect(decoded.options.get(67)?.toString()).toBe("abc");
    expect(decoded.sname).toBe("host");
  });

  it.each([
    ["a packet shorter than the header", Buffer.alloc(239), /shorter than a DHCP header/],
    ["a missing magic cookie", Buffer.alloc(300), /magic cookie/],
    ["an option without its length", rawPacket([53]), /no length octet/],
    ["an option longer than the packet", rawPacket([60, 9, 80]), /claims 9 octets/],
    ["hlen beyond chaddr", rawPacket([255], (b) => void (b[2] = 17)), /hlen 17/],
    ["an overload value out of range", rawPacket([52, 1, 4, 255]), /option 52/],
    [
      "an overloaded file field that overruns",
      rawPacket([52, 1, 1, 255], (b) => Buffer.from([60, 200]).copy(b, 108)),
      /claims 200 octets/,
    ],
  ])("rejects %s with DhcpDecodeError", (_name, bytes, message) => {
    expect(() => decodeDhcp(bytes)).toThrow(DhcpDecodeError);
    expect(() => decodeDhcp(bytes)).toThrow(message);
  });
});

describe("encodeDhcp", () => {
  it("writes the header, cookie, options and END, padded to the 300-octet BOOTP minimum", () => {
    const bytes = encodeDhcp(packet({ file: "undionly.kpxe", siaddr: "10.77.0.2" }));
    expect(bytes.length).toBe(300);
    expect(encodingLength(packet())).toBe(300);
    expect(bytes.subarray(236, 240)).toEqual(MAGIC_COOKIE);
    expect(bytes.subarray(240, 244)).toEqual(Buffer.from([53, 1, 1, 255]));
    expect(bytes.subarray(20, 24)).toEqual(Buffer.from([10, 77, 0, 2]));
    expect(bytes.toString("latin1", 108, 121)).toBe("undionly.kpxe");
  });

  it("splits an option longer than 255 octets into consecutive options (RFC 3396 §6)", () => {
    const long = Buffer.alloc(600, 0x61);
    const original = packet({ options: new Map([[67, long]]) });
    const bytes = encodeDhcp(original);
    expect(bytes.length).toBe(encodingLength(original));
    expect(bytes.length).toBe(240 + 3 * 2 + 600 + 1);
    expect([bytes[240], bytes[241]]).toEqual([67, 255]);
    expect(decodeDhcp(bytes).options.get(67)).toEqual(long);
  });

  it("round-trips a packet through decode", () => {
    const original = packet({
      options: new Map([
        [53, Buffer.from([2])],
        [54, Buffer.from([10, 77, 0, 2])],
        [200, Buffer.from("opaque")],
        [43, Buffer.alloc(0)],
      ]),
      sname: "x".repeat(63),
      file: "y".repeat(127),
    });
    expect(decodeDhcp(encodeDhcp(original))).toEqual(original);
  });

  it("round-trips every captured packet to the same decoded structure", () => {
    const payloads = allCapturedPayloads();
    expect(payloads.length).toBeGreaterThan(10);
    for (const payload of payloads) {
      const decoded = decodeDhcp(payload);
      expect(decodeDhcp(encodeDhcp(decoded))).toEqual(decoded);
    }
  });

  it.each([
    ["a file name that leaves no NUL", { file: "f".repeat(128) }, /file is 128 octets/],
    ["an sname that leaves no NUL", { sname: "s".repeat(64) }, /sname is 64 octets/],
    ["a bad address", { siaddr: "10.0.0" }, /not an IPv4 address/],
    ["an xid beyond 32 bits", { xid: 2 ** 32 }, /xid/],
    ["a structural option", { options: new Map([[52, Buffer.from([1])]]) }, /structural/],
    ["an option code beyond 255", { options: new Map([[256, Buffer.from([1])]]) }, /option code/],
    ["a chaddr beyond 16 octets", { chaddr: Buffer.alloc(17) }, /chaddr/],
  ])("refuses %s with DhcpEncodeError", (_name, overrides, message) => {
    expect(() => encodeDhcp(packet(overrides))).toThrow(DhcpEncodeError);
    expect(() => encodeDhcp(packet(overrides))).toThrow(message);
  });
});
