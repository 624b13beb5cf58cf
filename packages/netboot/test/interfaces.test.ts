import type { NetworkInterfaceInfo } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../src/errors.js";
import { broadcastAddressOf, directedBroadcast } from "../src/interfaces.js";

function ipv4(address: string, netmask: string): NetworkInterfaceInfo {
  return {
    address,
    netmask,
    family: "IPv4",
    mac: "52:54:00:00:00:01",
    internal: false,
    cidr: null,
  };
}

const ipv6: NetworkInterfaceInfo = {
  address: "fe80::1",
  netmask: "ffff:ffff:ffff:ffff::",
  family: "IPv6",
  mac: "52:54:00:00:00:01",
  internal: false,
  cidr: null,
  scopeid: 2,
};

describe("directedBroadcast", () => {
  it.each([
    ["192.168.1.23", "255.255.255.0", "192.168.1.255"],
    ["10.1.2.3", "255.255.0.0", "10.1.255.255"],
    ["172.16.5.130", "255.255.255.192", "172.16.5.191"],
    ["10.0.0.1", "255.255.255.255", "10.0.0.1"],
  ])("of %s/%s is %s", (address, netmask, broadcast) => {
    expect(directedBroadcast(address, netmask)).toBe(broadcast);
  });
});

describe("broadcastAddressOf", () => {
  it("uses the interface's first IPv4 address", () => {
    const interfaces = { eth0: [ipv6, ipv4("192.168.7.10", "255.255.255.0")] };
    expect(broadcastAddressOf("eth0", interfaces)).toBe("192.168.7.255");
  });

  it("names the interfaces that exist when the one asked for does not", () => {
    const interfaces = { lo: [ipv4("127.0.0.1", "255.0.0.0")], eth0: [] };
    expect(() => broadcastAddressOf("eth9", interfaces)).toThrow(ConfigError);
    expect(() => broadcastAddressOf("eth9", interfaces)).toThrow(/it has: lo, eth0/);
  });

  it("says when the interface has no IPv4 address", () => {
    expect(() => broadcastAddressOf("eth0", { eth0: [ipv6] })).toThrow(/has no IPv4 address/);
  });

  it("reads this machine's interfaces by default", () => {
    expect(broadcastAddressOf("lo")).toBe("127.255.255.255");
  });
});
