/**
 * Typed accessors for the request fields a PXE server looks at. Each returns undefined when the
 * packet lacks the field and throws DhcpDecodeError when it is malformed.
 */
import { macFromBytes, type Mac } from "../mac.js";
import {
  ETHERNET_ADDRESS_LENGTH,
  HTYPE_ETHERNET,
  IPXE_USER_CLASS,
  PxeSubOption,
  VendorClass,
} from "./constants.js";
import type { SubOptions } from "./option-types.js";
import { readOption } from "./options.js";
import type { DhcpPacket } from "./packet.js";

/** The Ethernet address in chaddr, or undefined for other hardware types. */
export function clientMac(packet: DhcpPacket): Mac | undefined {
  if (packet.htype !== HTYPE_ETHERNET || packet.hlen !== ETHERNET_ADDRESS_LENGTH) return undefined;
  return macFromBytes(packet.chaddr);
}

export function messageType(packet: DhcpPacket): number | undefined {
  return readOption(packet, "messageType");
}

export function vendorClass(packet: DhcpPacket): string | undefined {
  return readOption(packet, "vendorClassIdentifier");
}

/** "PXEClient" or "HTTPClient" when option 60 starts with it (PXE 2.1 §2.2, UEFI 2.5 §24.7). */
export function bootClientClass(
  packet: DhcpPacket,
): (typeof VendorClass)[keyof typeof VendorClass] | undefined {
  const value = vendorClass(packet);
  if (value === undefined) return undefined;
  if (value.startsWith(VendorClass.http)) return VendorClass.http;
  if (value.startsWith(VendorClass.pxe)) return VendorClass.pxe;
  return undefined;
}

/**
 * The client's architecture (option 93). RFC 4578 allows a list; firmware sends one value and
 * the first is the one it boots with.
 */
export function clientArch(packet: DhcpPacket): number | undefined {
  return readOption(packet, "clientArchitecture")?.[0];
}

/** Option 97's GUID as text, or undefined (also for a type other than 0, which RFC 4578 reserves). */
export function clientUuid(packet: DhcpPacket): string | undefined {
  const id = readOption(packet, "clientMachineId");
  return id?.type === 0 ? id.uuid : undefined;
}

/** Option 77 classes as text, RFC 3004 or iPXE's raw form alike. */
export function userClasses(packet: DhcpPacket): readonly string[] {
  return readOption(packet, "userClass")?.classes ?? [];
}

/** iPXE identifies itself by user class "iPXE" or by its encapsulated option 175. */
export function isIpxe(packet: DhcpPacket): boolean {
  return userClasses(packet).includes(IPXE_USER_CLASS) || packet.options.has(175);
}

/** Option 43 read as PXE vendor sub-options (PXE 2.1 §2.4.1); empty when absent. */
export function pxeVendorOptions(packet: DhcpPacket): SubOptions {
  return readOption(packet, "vendorSpecific") ?? new Map();
}

/** Option 175 read as iPXE's encapsulated settings (feature flags such as 19 = HTTP, 235 = version). */
export function ipxeOptions(packet: DhcpPacket): SubOptions {
  return readOption(packet, "ipxeEncapsulated") ?? new Map();
}

/** PXE discovery control (43.6), or undefined. */
export function pxeDiscoveryControl(packet: DhcpPacket): number | undefined {
  return pxeVendorOptions(packet).get(PxeSubOption.discoveryControl)?.[0];
}
