/**
 * The Wake-on-LAN magic packet (AMD's "Magic Packet Technology" white paper): six 0xFF bytes,
 * then the target MAC sixteen times, optionally followed by a SecureOn password of 4 or 6 bytes
 * that NICs with SecureOn enabled require (`ethtool -s IF wol gs sopass XX:…`). Pure bytes.
 */
import { ConfigError } from "../errors.js";
import { macToBytes, parseMac } from "../mac.js";

const SYNC_BYTE = 0xff;
const SYNC_LENGTH = 6;
const MAC_REPETITIONS = 16;
const MAC_LENGTH = 6;
const PASSWORD_LENGTHS: ReadonlySet<number> = new Set([4, 6]);
const PASSWORD_TEXT = /^[0-9a-f]{2}([:-][0-9a-f]{2})*$/i;

/** 102 bytes without a password, 106 or 108 with one. */
export const MAGIC_PACKET_LENGTH = SYNC_LENGTH + MAC_REPETITIONS * MAC_LENGTH;

/**
 * A SecureOn password as bytes: 4 or 6 bytes, or their text as hex octets separated by `:` or
 * `-` (the form ethtool's `sopass` takes).
 */
export type SecureOnPassword = Uint8Array | string;

function passwordBytes(password: SecureOnPassword): Uint8Array {
  let bytes: Uint8Array;
  if (typeof password === "string") {
    if (!PASSWORD_TEXT.test(password)) {
      throw new ConfigError(
        `SecureOn password ${JSON.stringify(password)} must be hex octets separated by ":" ` +
          `(e.g. 01:23:45:67:89:ab)`,
      );
    }
    bytes = Buffer.from(password.replace(/[:-]/g, ""), "hex");
  } else {
    bytes = Buffer.from(password);
  }
  if (!PASSWORD_LENGTHS.has(bytes.length)) {
    throw new ConfigError(`a SecureOn password has 4 or 6 bytes, this one has ${bytes.length}`);
  }
  return bytes;
}

/** The magic packet that wakes `mac` (any form parseMac accepts). */
export function magicPacket(mac: string, password?: SecureOnPassword): Buffer {
  const target = macToBytes(parseMac(mac));
  const parts: Uint8Array[] = [Buffer.alloc(SYNC_LENGTH, SYNC_BYTE)];
  for (let i = 0; i < MAC_REPETITIONS; i++) parts.push(target);
  if (password !== undefined) parts.push(passwordBytes(password));
  return Buffer.concat(parts);
}
