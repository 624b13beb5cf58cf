/**
 * MAC addresses: one canonical text form (lower-case, colon-separated) used in every event,
 * URL and policy call, so callers can compare them as strings.
 */
import { InvalidMacError } from "./errors.js";

export type Mac = string & { readonly __brand: "Mac" };

const MAC_PATTERN =
  /^([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})$/i;

/** Parses `52:54:00:12:34:56`, `52-54-00-12-34-56` or `525400123456` into the canonical form. */
export function parseMac(text: string): Mac {
  const match = MAC_PATTERN.exec(text.trim());
  if (!match) throw new InvalidMacError(text);
  return match.slice(1).join(":").toLowerCase() as Mac;
}

export function isMac(text: string): boolean {
  return MAC_PATTERN.test(text.trim());
}

/** Two lower-case hex digits per octet value: macFromBytes runs for every DHCP request. */
const HEX_OCTETS: readonly string[] = Array.from({ length: 256 }, (_, value) =>
  value.toString(16).padStart(2, "0"),
);

export function macFromBytes(bytes: Uint8Array): Mac {
  if (bytes.length < 6) throw new InvalidMacError(Buffer.from(bytes).toString("hex"));
  const hex = (index: number) => HEX_OCTETS[bytes[index] as number] as string;
  return `${hex(0)}:${hex(1)}:${hex(2)}:${hex(3)}:${hex(4)}:${hex(5)}` as Mac;
}

export function macToBytes(mac: Mac): Buffer {
  return Buffer.from(mac.replaceAll(":", ""), "hex");
}
