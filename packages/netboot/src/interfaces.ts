/**
 * The directed broadcast address of an interface (RFC 919/922: host bits all ones), where a
 * magic packet must go so that it leaves on that interface's link. The limited broadcast
 * 255.255.255.255 would leave through whichever interface the routing table picks.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
import { ConfigError } from "./errors.js";

const IPV4_OCTETS = 4;
const OCTET_BITS = 8;

function ipv4ToNumber(address: string): number {
  return (
    address.split(".").reduce((value, octet) => (value << OCTET_BITS) | Number(octet), 0) >>> 0
  );
}

function numberToIpv4(value: number): string {
  const octets: number[] = [];
  for (let i = IPV4_OCTETS - 1; i >= 0; i--) octets.push((value >>> (i * OCTET_BITS)) & 0xff);
  return octets.join(".");
}

/** Directed broadcast of `address` in the network `netmask` describes. */
export function directedBroadcast(address: string, netmask: string): string {
  const mask = ipv4ToNumber(netmask);
  return numberToIpv4(((ipv4ToNumber(address) & mask) | ~mask) >>> 0);
}

export interface InterfaceIpv4 {
  readonly name: string;
  readonly address: string;
  readonly netmask: string;
  readonly broadcast: string;
}

/**
 * The first IPv4 address of `interfaceName`, with its netmask and directed broadcast. Throws a
 * ConfigError that lists the machine's interfaces when the name is wrong. `interfaces` defaults
 * to this machine's (os.networkInterfaces()).
 */
export function interfaceIpv4(
  interfaceName: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): InterfaceIpv4 {
  const addresses = interfaces[interfaceName];
  if (!addresses) {
    const known = Object.keys(interfaces).join(", ") || "none";
    throw new ConfigError(
      `network interface ${interfaceName} does not exist on this machine (it has: ${known}); ` +
        `pass the interface on the machines' network`,
    );
  }
  const ipv4 = addresses.find((info) => info.family === "IPv4");
  if (!ipv4) {
    throw new ConfigError(
      `network interface ${interfaceName} has no IPv4 address; give it an address on the ` +
        `machines' network (e.g. ip addr add 192.168.1.10/24 dev ${interfaceName})`,
    );
  }
  return {
    name: interfaceName,
    address: ipv4.address,
    netmask: ipv4.netmask,
    broadcast: directedBroadcast(ipv4.address, ipv4.netmask),
  };
}

/** The broadcast address of the first IPv4 address on `interfaceName` (for Wake-on-LAN). */
export function broadcastAddressOf(
  interfaceName: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string {
  return interfaceIpv4(interfaceName, interfaces).broadcast;
}
