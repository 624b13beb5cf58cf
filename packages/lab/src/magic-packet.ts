/**
 * Wake-on-LAN magic packets, decoded (AMD "Magic Packet Technology" white paper): six 0xFF
 * bytes, then the target MAC sixteen times, optionally followed by a 4- or 6-byte SecureOn
 * password. The sequence may sit anywhere in the payload, so we search for it.
 */
import { MagicPacketError } from "./errors.js";

export interface MagicPacket {
  /** Lower-case, colon-separated. */
  readonly mac: string;
  /** SecureOn password as lower-case hex, when the packet carries one. */
  readonly password?: string;
}

const SYNC_BYTES = 6;
const MAC_BYTES = 6;
const MAC_REPETITIONS = 16;
const SYNC_VALUE = 0xff;
const PASSWORD_LENGTHS = [6, 4] as const;
const GROUP_ADDRESS_BIT = 0x01;
const BODY_BYTES = SYNC_BYTES + MAC_BYTES * MAC_REPETITIONS;

export function parseMagicPacket(payload: Uint8Array): MagicPacket {
  const bytes = Buffer.from(payload);
  for (let start = 0; start + BODY_BYTES <= bytes.length; start++) {
    if (!isSync(bytes, start)) continue;
    const macStart = start + SYNC_BYTES;
    const mac = bytes.subarray(macStart, macStart + MAC_BYTES);
    // A NIC's own address is never a group address (I/G bit set), e.g. a run of 0xFF padding.
    if ((mac[0]! & GROUP_ADDRESS_BIT) !== 0 || !repeats(bytes, macStart, mac)) continue;
    const trailing = bytes.length - (start + BODY_BYTES);
    const passwordLength = PASSWORD_LENGTHS.find((length) => length === trailing);
    const formatted = [...mac].map((byte) => byte.toString(16).padStart(2, "0")).join(":");
    return passwordLength === undefined
      ? { mac: formatted }
      : { mac: formatted, password: bytes.subarray(start + BODY_BYTES).toString("hex") };
  }
  throw new MagicPacketError(
    `no Wake-on-LAN magic sequence (6×0xFF then a MAC 16 times) in ${bytes.length} bytes`,
  );
}

function isSync(bytes: Buffer, start: number): boolean {
  for (let index = 0; index < SYNC_BYTES; index++)
    if (bytes[start + index] !== SYNC_VALUE) return false;
  return true;
}

function repeats(bytes: Buffer, macStart: number, mac: Buffer): boolean {
  for (let repetition = 1; repetition < MAC_REPETITIONS; repetition++) {
    const offset = macStart + repetition * MAC_BYTES;
    if (!bytes.subarray(offset, offset + MAC_BYTES).equals(mac)) return false;
  }
  return true;
}
