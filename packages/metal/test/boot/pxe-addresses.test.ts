import type { DhcpRequestEvent, Mac } from "netboot";
import { describe, expect, it } from "vitest";
import { MAX_ADDRESSES_PER_MAC, PxeAddressBook } from "../../src/boot/pxe-addresses.js";

const HOST_MAC = "52:54:00:77:00:01" as Mac;
const STRANGER_MAC = "02:66:00:00:00:01" as Mac;

function request(mac: Mac, fields: Partial<DhcpRequestEvent>): DhcpRequestEvent {
  return {
    type: "dhcp.request",
    time: 0,
    mac,
    xid: 1,
    message: "REQUEST",
    port: 67,
    from: "0.0.0.0",
    arch: 0,
    vendorClass: "PXEClient",
    userClass: undefined,
    isIpxe: false,
    relay: undefined,
    requestedAddress: undefined,
    clientAddress: undefined,
    ...fields,
  };
}

describe("PXE address book", () => {
  it("learns option 50 and ciaddr of an inventory MAC's DHCP, most recent last", () => {
    const book = new PxeAddressBook(new Set([HOST_MAC]));
    book.observe(request(HOST_MAC, { requestedAddress: "10.77.0.130" }));
    book.observe(request(HOST_MAC, { port: 4011, clientAddress: "10.77.0.131" }));
    book.observe(request(HOST_MAC, { requestedAddress: "10.77.0.130" }));
    expect(book.addresses(HOST_MAC)).toEqual(["10.77.0.131", "10.77.0.130"]);
  });

  it("ignores MACs outside the inventory, 0.0.0.0, and keeps at most MAX_ADDRESSES_PER_MAC", () => {
    const book = new PxeAddressBook(new Set([HOST_MAC]));
    book.observe(request(STRANGER_MAC, { requestedAddress: "10.77.0.66" }));
    book.observe(request(HOST_MAC, { clientAddress: "0.0.0.0" }));
    for (let octet = 100; octet < 110; octet++)
      book.observe(request(HOST_MAC, { requestedAddress: `10.77.0.${octet}` }));
    expect(book.addresses(STRANGER_MAC)).toEqual([]);
    expect(book.addresses(HOST_MAC)).toHaveLength(MAX_ADDRESSES_PER_MAC);
    expect(book.addresses(HOST_MAC).at(-1)).toBe("10.77.0.109");
  });
});
