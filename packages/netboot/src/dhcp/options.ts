/**
 * The DHCP option table: every option this library reads or writes, as data (code, name, data
 * type, defining document). Typed reads and writes go through it, so adding an option is one
 * line here. Options not in the table stay raw bytes in the packet and round-trip unchanged.
 */
import { DhcpDecodeError, DhcpEncodeError } from "../errors.js";
import type { DhcpPacket } from "./packet.js";
import { OptionTypes, type OptionType, type OptionTypeValue } from "./option-types.js";

export interface OptionSpec {
  readonly code: number;
  readonly name: string;
  readonly type: OptionType;
  readonly rfc: string;
}

export const DHCP_OPTIONS = [
  { code: 1, name: "subnetMask", type: "ip", rfc: "RFC 2132 §3.3" },
  { code: 2, name: "timeOffset", type: "i32", rfc: "RFC 2132 §3.4" },
  { code: 3, name: "routers", type: "ips", rfc: "RFC 2132 §3.5" },
  { code: 6, name: "domainNameServers", type: "ips", rfc: "RFC 2132 §3.8" },
  { code: 12, name: "hostName", type: "text", rfc: "RFC 2132 §3.14" },
  { code: 13, name: "bootFileSize", type: "u16", rfc: "RFC 2132 §3.15" },
  { code: 15, name: "domainName", type: "text", rfc: "RFC 2132 §3.17" },
  { code: 19, name: "ipForwarding", type: "flag", rfc: "RFC 2132 §4.1" },
  { code: 26, name: "interfaceMtu", type: "u16", rfc: "RFC 2132 §5.1" },
  { code: 28, name: "broadcastAddress", type: "ip", rfc: "RFC 2132 §5.3" },
  { code: 43, name: "vendorSpecific", type: "subOptions", rfc: "RFC 2132 §8.4, PXE 2.1 §2.4.1" },
  { code: 50, name: "requestedIpAddress", type: "ip", rfc: "RFC 2132 §9.1" },
  { code: 51, name: "leaseTime", type: "u32", rfc: "RFC 2132 §9.2" },
  { code: 52, name: "optionOverload", type: "u8", rfc: "RFC 2132 §9.3" },
  { code: 53, name: "messageType", type: "u8", rfc: "RFC 2132 §9.6" },
  { code: 54, name: "serverIdentifier", type: "ip", rfc: "RFC 2132 §9.7" },
  { code: 55, name: "parameterRequestList", type: "u8s", rfc: "RFC 2132 §9.8" },
  { code: 56, name: "message", type: "text", rfc: "RFC 2132 §9.9" },
  { code: 57, name: "maxMessageSize", type: "u16", rfc: "RFC 2132 §9.10" },
  { code: 58, name: "renewalTime", type: "u32", rfc: "RFC 2132 §9.11" },
  { code: 59, name: "rebindingTime", type: "u32", rfc: "RFC 2132 §9.12" },
  { code: 60, name: "vendorClassIdentifier", type: "text", rfc: "RFC 2132 §9.13" },
  { code: 61, name: "clientIdentifier", type: "clientIdentifier", rfc: "RFC 2132 §9.14" },
  { code: 66, name: "tftpServerName", type: "text", rfc: "RFC 2132 §9.4" },
  { code: 67, name: "bootFileName", type: "text", rfc: "RFC 2132 §9.5" },
  { code: 77, name: "userClass", type: "userClass", rfc: "RFC 3004" },
  { code: 82, name: "relayAgentInformation", type: "subOptions", rfc: "RFC 3046" },
  { code: 93, name: "clientArchitecture", type: "u16s", rfc: "RFC 4578 §2.1" },
  { code: 94, name: "clientNetworkInterface", type: "networkInterfaceId", rfc: "RFC 4578 §2.2" },
  { code: 97, name: "clientMachineId", type: "clientMachineId", rfc: "RFC 4578 §2.5" },
  { code: 150, name: "tftpServerAddresses", type: "ips", rfc: "RFC 5859" },
  { code: 175, name: "ipxeEncapsulated", type: "subOptions", rfc: "iPXE (docs: dhcp options)" },
] as const satisfies readonly OptionSpec[];

type Spec = (typeof DHCP_OPTIONS)[number];
export type OptionName = Spec["name"];
export type OptionValue<N extends OptionName> = OptionTypeValue<Extract<Spec, { name: N }>["type"]>;

const BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(
  DHCP_OPTIONS.map((spec) => [spec.name, spec]),
);
const BY_CODE: ReadonlyMap<number, OptionSpec> = new Map(
  DHCP_OPTIONS.map((spec) => [spec.code, spec]),
);

export function optionSpec(name: OptionName): OptionSpec {
  return BY_NAME.get(name) as OptionSpec;
}

/** The table entry for a code, or undefined for options this library treats as raw bytes. */
export function optionByCode(code: number): OptionSpec | undefined {
  return BY_CODE.get(code);
}

function codecOf<N extends OptionName>(spec: OptionSpec) {
  return OptionTypes[spec.type] as unknown as {
    decode(data: Buffer): OptionValue<N>;
    encode(value: OptionValue<N>): Buffer;
    encodingLength(value: OptionValue<N>): number;
  };
}

/**
 * The typed value of option `name`, or undefined when the packet does not carry it. Throws
 * DhcpDecodeError when the option's data does not fit its type; `decodeDhcp` leaves option
 * data raw, so a malformed option the caller never reads cannot spoil the packet.
 */
export function readOption<N extends OptionName>(
  packet: DhcpPacket,
  name: N,
): OptionValue<N> | undefined {
  const spec = optionSpec(name);
  const data = packet.options.get(spec.code);
  if (data === undefined) return undefined;
  try {
    return codecOf<N>(spec).decode(data);
  } catch (error) {
    if (error instanceof DhcpDecodeError)
      throw new DhcpDecodeError(
        `option ${spec.code} (${spec.name}): ${error.message}`,
        error.offset,
      );
    throw error;
  }
}

/** The option's data bytes for a typed value (before RFC 3396 splitting). */
export function encodeOption<N extends OptionName>(name: N, value: OptionValue<N>): Buffer {
  return codecOf<N>(optionSpec(name)).encode(value);
}

export function optionEncodingLength<N extends OptionName>(name: N, value: OptionValue<N>): number {
  return codecOf<N>(optionSpec(name)).encodingLength(value);
}

/** A typed option as [code, data] for a packet's option map. */
export function option<N extends OptionName>(name: N, value: OptionValue<N>): [number, Buffer] {
  const spec = optionSpec(name);
  if (spec.code === 0 || spec.code === 255)
    throw new DhcpEncodeError(`option ${spec.code} is structural`);
  return [spec.code, encodeOption(name, value)];
}
