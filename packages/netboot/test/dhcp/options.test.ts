import { describe, expect, it } from "vitest";
import {
  DHCP_OPTIONS,
  DhcpDecodeError,
  DhcpEncodeError,
  encodeOption,
  option,
  OptionTypes,
  optionByCode,
  optionEncodingLength,
  readOption,
  type DhcpPacket,
  type OptionName,
  type OptionValue,
} from "../../src/index.js";
import { clientPacket } from "./client-packet.js";

function withOptions(...entries: Array<[number, Buffer]>): DhcpPacket {
  return clientPacket({ xid: 1, chaddr: Buffer.alloc(16), options: new Map(entries) });
}

/** One option of each data type with its wire bytes (RFC 2132 §3-§9 formats). */
const EXAMPLES: Array<{ [N in OptionName]: [N, OptionValue<N>, string] }[OptionName]> = [
  ["subnetMask", "255.255.255.0", "ffffff00"],
  ["timeOffset", -3600, "fffff1f0"],
  ["routers", ["10.0.0.1", "10.0.0.2"], "0a0000010a000002"],
  ["hostName", "node-1", "6e6f64652d31"],
  ["interfaceMtu", 1500, "05dc"],
  ["ipForwarding", true, "01"],
  ["leaseTime", 86400, "00015180"],
  ["messageType", 1, "01"],
  ["parameterRequestList", [1, 3, 67], "010343"],
  ["clientArchitecture", [7], "0007"],
  ["clientNetworkInterface", { type: 1, major: 3, minor: 16 }, "010310"],
  ["clientIdentifier", { type: 1, id: Buffer.from("525400770001", "hex") }, "01525400770001"],
  [
    "clientMachineId",
    { type: 0, uuid: "8f2b6c1e-4d3a-4b5c-9e7f-0a1b2c3d4e5f" },
    "001e6c2b8f3a4d5c4b9e7f0a1b2c3d4e5f",
  ],
  ["userClass", { format: "raw", classes: ["iPXE"] }, "69505845"],
  ["userClass", { format: "rfc3004", classes: ["ab", "c"] }, "0261620163"],
  ["vendorSpecific", new Map([[6, Buffer.from([8])]]), "060108ff"],
  ["ipxeEncapsulated", new Map([[19, Buffer.from([1])]]), "130101ff"],
];

describe("the option table", () => {
  it("names every code once, with a type and the document that defines it", () => {
    const codes = DHCP_OPTIONS.map((spec) => spec.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const spec of DHCP_OPTIONS) {
      expect(OptionTypes[spec.type]).toBeDefined();
      expect(spec.rfc).not.toBe("");
      expect(optionByCode(spec.code)).toBe(spec);
    }
  });

  it("covers every data type with an example", () => {
    const exampleTypes = new Set(
      EXAMPLES.map(([name]) => DHCP_OPTIONS.find((spec) => spec.name === name)?.type),
    );
    const missing = Object.keys(OptionTypes).filter((type) => !exampleTypes.has(type as never));
    expect(missing).toEqual([]);
  });

  it.each(EXAMPLES)("encodes and decodes %s as RFC bytes %#", (name, value, hex) => {
    const data = encodeOption(name, value as never);
    expect(data.toString("hex")).toBe(hex);
    expect(optionEncodingLength(name, value as never)).toBe(data.length);
    const [code] = option(name, value as never);
    expect(readOption(withOptions([code, data]), name)).toEqual(value);
  });

  it("drops trailing NULs some firmware puts after text options", () => {
    expect(
      readOption(withOptions([60, Buffer.from("PXEClient\0\0")]), "vendorClassIdentifier"),
    ).toBe("PXEClient");
  });

  it("reads a raw (iPXE) user class whose first octet would overrun as an RFC 3004 length", () => {
    expect(readOption(withOptions([77, Buffer.from("iPXE")]), "userClass")).toEqual({
      format: "raw",
      classes: ["iPXE"],
    });
  });

  it("reads sub-options up to END and skips PAD inside option 43", () => {
    const value = readOption(
      withOptions([43, Buffer.from("00060108ff0901ff", "hex")]),
      "vendorSpecific",
    );
    expect(value).toEqual(new Map([[6, Buffer.from([8])]]));
  });

  it.each([
    ["an address of 3 octets", 1, "0a0000"],
    ["an address list that is not a multiple of 4", 3, "0a0000010a"],
    ["an empty 16-bit list", 93, ""],
    ["a message type of 2 octets", 53, "0101"],
    ["a flag other than 0 or 1", 19, "02"],
    ["a sub-option that overruns", 43, "0605"],
    ["a sub-option without length", 175, "06"],
    ["a short machine id", 97, "00112233"],
    ["an empty user class", 77, ""],
    ["a one-octet client identifier", 61, "01"],
    ["a short interface id", 94, "0103"],
  ])("throws DhcpDecodeError naming the option for %s", (_name, code, hex) => {
    const spec = optionByCode(code);
    const read = () =>
      readOption(withOptions([code, Buffer.from(hex, "hex")]), spec?.name as OptionName);
    expect(read).toThrow(DhcpDecodeError);
    expect(read).toThrow(`option ${code}`);
  });

  it.each([
    ["an 8-bit value above 255", () => encodeOption("messageType", 256)],
    ["a negative 16-bit value", () => encodeOption("interfaceMtu", -1)],
    ["a fractional 32-bit value", () => encodeOption("leaseTime", 1.5)],
    ["a signed value beyond 32 bits", () => encodeOption("timeOffset", 2 ** 31)],
    ["a malformed UUID", () => encodeOption("clientMachineId", { type: 0, uuid: "nope" })],
    [
      "an empty RFC 3004 class",
      () => encodeOption("userClass", { format: "rfc3004", classes: [""] }),
    ],
    [
      "a sub-option longer than 255 octets",
      () => encodeOption("vendorSpecific", new Map([[1, Buffer.alloc(256)]])),
    ],
    ["sub-option code 0", () => encodeOption("vendorSpecific", new Map([[0, Buffer.alloc(1)]]))],
    ["a host name as an address", () => encodeOption("serverIdentifier", "server.lan")],
  ])("refuses to encode %s with DhcpEncodeError", (_name, encode) => {
    expect(encode).toThrow(DhcpEncodeError);
  });
});
