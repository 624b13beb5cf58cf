/** IPv4 address and CIDR helpers for the inventory's network checks (ipaddr.js does the parsing). */
import ipaddr from "ipaddr.js";

export interface Cidr {
  readonly address: string;
  readonly prefixLength: number;
}

const IPV4_MAX_PREFIX = 32;

/** Strict dotted-quad form only: ipaddr.js alone would also take `10.1` or octal. */
export function isIPv4(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

export function parseCidr(text: string): Cidr | undefined {
  const [address, prefix, ...rest] = text.split("/");
  if (rest.length > 0 || address === undefined || prefix === undefined) return undefined;
  if (!isIPv4(address) || !/^[0-9]{1,2}$/.test(prefix)) return undefined;
  const prefixLength = Number(prefix);
  return prefixLength <= IPV4_MAX_PREFIX ? { address, prefixLength } : undefined;
}

export function networkAddress(cidr: Cidr): string {
  return ipaddr.IPv4.networkAddressFromCIDR(`${cidr.address}/${cidr.prefixLength}`).toString();
}

export function broadcastAddress(cidr: Cidr): string {
  return ipaddr.IPv4.broadcastAddressFromCIDR(`${cidr.address}/${cidr.prefixLength}`).toString();
}

export function inSubnet(address: string, subnet: Cidr): boolean {
  return ipaddr.IPv4.parse(address).match(ipaddr.IPv4.parse(subnet.address), subnet.prefixLength);
}

export function ipv4ToNumber(address: string): number {
  return ipaddr.IPv4.parse(address)
    .toByteArray()
    .reduce((n, octet) => n * 256 + octet, 0);
}

/** Usable host addresses of a subnet in order (network and broadcast excluded). */
export function* hostAddresses(subnet: Cidr): Generator<string> {
  const start = ipv4ToNumber(networkAddress(subnet));
  const count = 2 ** (IPV4_MAX_PREFIX - subnet.prefixLength);
  for (let offset = 1; offset < count - 1; offset++) {
    const n = start + offset;
    yield [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join(".");
  }
}
