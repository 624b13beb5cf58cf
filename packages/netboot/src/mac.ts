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

export function macFromBytes(bytes: Uint8Array): Mac {
  if (bytes.length < 6) throw new InvalidMacError(Buffer.from(bytes).toString("hex"));
  return Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(":") as Mac;
}

export function macToBytes(mac: Mac): Buffer {
  return Buffer.from(mac.replaceAll(":", ""), "hex");
}
