/**
 * The value codecs of DHCP options, one per data type of RFC 2132 §2 and the PXE/iPXE
 * extensions: decode(bytes) → value, encode(value) → bytes, encodingLength(value), in the
 * shape of `dns-packet`. Decoders throw only DhcpDecodeError, with the offset inside the
 * option's data.
 */
import { DhcpDecodeError, DhcpEncodeError } from "../errors.js";

export interface ValueCodec<T> {
  decode(data: Buffer): T;
  encode(value: T): Buffer;
  encodingLength(value: T): number;
}

/** RFC 3004 user class: a list of opaque classes; iPXE sends one raw string without lengths. */
export interface UserClass {
  readonly format: "rfc3004" | "raw";
  readonly classes: readonly string[];
}

/** RFC 2132 §9.14 client identifier: a type (1 = Ethernet) and the identifier. */
export interface ClientIdentifier {
  readonly type: number;
  readonly id: Buffer;
}

/** RFC 4578 §2.2 client network interface identifier (UNDI version). */
export interface NetworkInterfaceId {
  readonly type: number;
  readonly major: number;
  readonly minor: number;
}

/** RFC 4578 §2.5 client machine identifier: type 0 and a 16-octet GUID, as UUID text. */
export interface ClientMachineId {
  readonly type: number;
  readonly uuid: string;
}

/** Encapsulated sub-options (RFC 2132 §8.4 vendor options, iPXE 175, RFC 3046 agent info). */
export type SubOptions = ReadonlyMap<number, Buffer>;

const IPV4_LENGTH = 4;
const GUID_LENGTH = 16;
const SUB_OPTION_PAD = 0;
const SUB_OPTION_END = 255;
const MAX_U8 = 0xff;
const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;

function fail(message: string, offset = 0): never {
  throw new DhcpDecodeError(message, offset);
}

function requireLength(data: Buffer, length: number, what: string): void {
  if (data.length !== length) fail(`${what} needs ${length} octets, got ${data.length}`);
}

function requireMultiple(data: Buffer, unit: number, what: string): void {
  if (data.length === 0 || data.length % unit !== 0)
    fail(`${what} needs a non-empty multiple of ${unit} octets, got ${data.length}`);
}

function checkedInteger(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new DhcpEncodeError(`${what} must be an integer from 0 to ${max}, got ${value}`);
  return value;
}

export function decodeIpv4(data: Buffer, offset = 0): string {
  return `${data[offset]}.${data[offset + 1]}.${data[offset + 2]}.${data[offset + 3]}`;
}

const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MAX_OCTET_DIGITS = 3;

/**
 * Writes dotted-quad `address` as 4 octets at `offset` of `target`, without allocating: it runs
 * for every address field of every reply (bench/dhcp.bench.ts). Accepts exactly what
 * `net.isIPv4` accepts: four decimal octets 0-255, no leading zeros, nothing else.
 */
export function writeIpv4(target: Buffer, offset: number, address: string): void {
  let octet = 0;
  let digits = 0;
  let index = 0;
  for (let at = 0; at <= address.length; at++) {
    const code = at === address.length ? DOT : address.charCodeAt(at);
    if (code === DOT) {
      if (digits === 0 || index > 3) break;
      target[offset + index++] = octet;
      octet = 0;
      digits = 0;
    } else if (code >= DIGIT_0 && code <= DIGIT_9) {
      if (digits === 1 && octet === 0) break; // a leading zero ("010") is not dotted-quad
      octet = octet * 10 + (code - DIGIT_0);
      if (++digits > MAX_OCTET_DIGITS || octet > MAX_U8) break;
    } else break;
    if (at === address.length && index === IPV4_LENGTH) return;
  }
  throw new DhcpEncodeError(`"${address}" is not an IPv4 address`);
}

export function encodeIpv4(address: string): Buffer {
  const bytes = Buffer.allocUnsafe(IPV4_LENGTH);
  writeIpv4(bytes, 0, address);
  return bytes;
}

function fixed<T>(
  length: number,
  decode: (data: Buffer) => T,
  encode: (value: T) => Buffer,
  what: string,
): ValueCodec<T> {
  return {
    decode: (data) => (requireLength(data, length, what), decode(data)),
    encode,
    encodingLength: () => length,
  };
}

function listOf<T>(unit: number, item: ValueCodec<T>, what: string): ValueCodec<readonly T[]> {
  return {
    decode(data) {
      requireMultiple(data, unit, what);
      const values: T[] = [];
      for (let at = 0; at < data.length; at += unit)
        values.push(item.decode(data.subarray(at, at + unit)));
      return values;
    },
    encode: (values) => Buffer.concat(values.map((value) => item.encode(value))),
    encodingLength: (values) => values.length * unit,
  };
}

const ip = fixed(IPV4_LENGTH, (data) => decodeIpv4(data), encodeIpv4, "an IPv4 address");
const u8 = fixed(
  1,
  (data) => data.readUInt8(0),
  (value: number) => Buffer.from([checkedInteger(value, MAX_U8, "an 8-bit value")]),
  "an 8-bit value",
);
const u16 = fixed(
  2,
  (data) => data.readUInt16BE(0),
  (value: number) => {
    const out = Buffer.alloc(2);
    out.writeUInt16BE(checkedInteger(value, MAX_U16, "a 16-bit value"));
    return out;
  },
  "a 16-bit value",
);
const u32 = fixed(
  4,
  (data) => data.readUInt32BE(0),
  (value: number) => {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(checkedInteger(value, MAX_U32, "a 32-bit value"));
    return out;
  },
  "a 32-bit value",
);
const i32 = fixed(
  4,
  (data) => data.readInt32BE(0),
  (value: number) => {
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff)
      throw new DhcpEncodeError(`a signed 32-bit value must be an integer, got ${value}`);
    const out = Buffer.alloc(4);
    out.writeInt32BE(value);
    return out;
  },
  "a signed 32-bit value",
);
const flag = fixed(
  1,
  (data) => {
    const value = data.readUInt8(0);
    if (value > 1) fail(`a flag is 0 or 1, got ${value}`);
    return value === 1;
  },
  (value: boolean) => Buffer.from([value ? 1 : 0]),
  "a flag",
);

/**
 * NVT ASCII text (RFC 2132 §2). Trailing NULs are dropped: RFC 2132 says they SHOULD NOT be
 * sent, but some firmware terminates strings anyway. Latin-1 keeps every byte round-trippable.
 */
const text: ValueCodec<string> = {
  decode: (data) => data.toString("latin1").replace(/\0+$/, ""),
  encode: (value) => Buffer.from(value, "latin1"),
  encodingLength: (value) => Buffer.byteLength(value, "latin1"),
};

/** Sub-options: code, length, data, ended by 255 or the end of the option (RFC 2132 §8.4). */
export const subOptions: ValueCodec<SubOptions> = {
  decode(data) {
    const result = new Map<number, Buffer>();
    let at = 0;
    while (at < data.length) {
      const code = data[at] as number;
      if (code === SUB_OPTION_END) break;
      if (code === SUB_OPTION_PAD) {
        at++;
        continue;
      }
      if (at + 1 >= data.length) fail(`sub-option ${code} has no length`, at);
      const length = data[at + 1] as number;
      if (at + 2 + length > data.length) fail(`sub-option ${code} overruns its option`, at);
      result.set(code, Buffer.from(data.subarray(at + 2, at + 2 + length)));
      at += 2 + length;
    }
    return result;
  },
  encode(value) {
    const parts: Buffer[] = [];
    for (const [code, data] of value) {
      checkedInteger(code, SUB_OPTION_END - 1, "a sub-option code");
      if (code === SUB_OPTION_PAD) throw new DhcpEncodeError("sub-option code 0 is padding");
      if (data.length > MAX_U8)
        throw new DhcpEncodeError(`sub-option ${code} is ${data.length} octets, at most 255 fit`);
      parts.push(Buffer.from([code, data.length]), data);
    }
    parts.push(Buffer.from([SUB_OPTION_END]));
    return Buffer.concat(parts);
  },
  encodingLength(value) {
    let length = 1;
    for (const data of value.values()) length += 2 + data.length;
    return length;
  },
};

/**
 * RFC 3004 §4: length-prefixed classes. iPXE (and some Windows clients) send one raw string
 * instead ("iPXE"); data that does not parse as RFC 3004 is that raw form.
 */
export const userClass: ValueCodec<UserClass> = {
  decode(data) {
    if (data.length === 0) fail("user class is empty");
    const classes: string[] = [];
    let at = 0;
    while (at < data.length) {
      const length = data[at] as number;
      if (length === 0 || at + 1 + length > data.length)
        return { format: "raw", classes: [text.decode(data)] };
      classes.push(text.decode(data.subarray(at + 1, at + 1 + length)));
      at += 1 + length;
    }
    return { format: "rfc3004", classes };
  },
  encode(value) {
    if (value.format === "raw") return text.encode(value.classes.join(""));
    return Buffer.concat(
      value.classes.map((name) => {
        const data = text.encode(name);
        if (data.length === 0 || data.length > MAX_U8)
          throw new DhcpEncodeError(`user class "${name}" must be 1 to 255 octets`);
        return Buffer.concat([Buffer.from([data.length]), data]);
      }),
    );
  },
  encodingLength(value) {
    if (value.format === "raw") return text.encodingLength(value.classes.join(""));
    return value.classes.reduce((sum, name) => sum + 1 + text.encodingLength(name), 0);
  },
};

export const clientIdentifier: ValueCodec<ClientIdentifier> = {
  decode(data) {
    if (data.length < 2) fail(`client identifier needs at least 2 octets, got ${data.length}`);
    return { type: data[0] as number, id: Buffer.from(data.subarray(1)) };
  },
  encode: (value) =>
    Buffer.concat([
      Buffer.from([checkedInteger(value.type, MAX_U8, "a client identifier type")]),
      value.id,
    ]),
  encodingLength: (value) => 1 + value.id.length,
};

export const networkInterfaceId: ValueCodec<NetworkInterfaceId> = fixed(
  3,
  (data) => ({ type: data[0] as number, major: data[1] as number, minor: data[2] as number }),
  (value) =>
    Buffer.from([
      checkedInteger(value.type, MAX_U8, "an interface type"),
      checkedInteger(value.major, MAX_U8, "a major version"),
      checkedInteger(value.minor, MAX_U8, "a minor version"),
    ]),
  "a network interface identifier",
);

/**
 * The GUID's first three fields are little-endian on the wire, as in SMBIOS 2.6+ and EFI: QEMU
 * `-uuid 8f2b6c1e-4d3a-…` arrives as `1e 6c 2b 8f 3a 4d …` from both iPXE and OVMF (measured,
 * test/fixtures/dhcp). Formatting it that way gives the text `dmidecode` and the BIOS show.
 */
const GUID_SWAPPED_FIELDS: readonly (readonly [number, number])[] = [
  [0, 4],
  [4, 6],
  [6, 8],
];
const GUID_TEXT = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

export function formatGuid(raw: Buffer): string {
  const bytesInTextOrder = Buffer.from(raw);
  for (const [start, end] of GUID_SWAPPED_FIELDS) bytesInTextOrder.subarray(start, end).reverse();
  const hex = bytesInTextOrder.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function parseGuid(uuid: string): Buffer {
  const match = GUID_TEXT.exec(uuid);
  if (!match) throw new DhcpEncodeError(`"${uuid}" is not a UUID (8-4-4-4-12 hex digits)`);
  const raw = Buffer.from(match.slice(1).join(""), "hex");
  for (const [start, end] of GUID_SWAPPED_FIELDS) raw.subarray(start, end).reverse();
  return raw;
}

export const clientMachineId: ValueCodec<ClientMachineId> = fixed(
  1 + GUID_LENGTH,
  (data) => ({ type: data[0] as number, uuid: formatGuid(data.subarray(1)) }),
  (value) =>
    Buffer.concat([
      Buffer.from([checkedInteger(value.type, MAX_U8, "a machine id type")]),
      parseGuid(value.uuid),
    ]),
  "a client machine identifier (type + 16-octet GUID)",
);

/** Every data type an option in the table can have, with its codec. */
export const OptionTypes = {
  ip,
  ips: listOf(IPV4_LENGTH, ip, "a list of IPv4 addresses"),
  u8,
  u8s: listOf(1, u8, "a list of 8-bit values"),
  u16,
  u16s: listOf(2, u16, "a list of 16-bit values"),
  u32,
  i32,
  flag,
  text,
  subOptions,
  userClass,
  clientIdentifier,
  networkInterfaceId,
  clientMachineId,
} as const;

export type OptionType = keyof typeof OptionTypes;
export type OptionTypeValue<T extends OptionType> =
  (typeof OptionTypes)[T] extends ValueCodec<infer V> ? V : never;
