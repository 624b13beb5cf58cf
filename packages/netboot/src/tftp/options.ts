/**
 * Option negotiation, pure: what the client asked for + the server's limits → what the server
 * acknowledges in its OACK and the parameters the transfer runs with. RFC 2347 (negotiation),
 * RFC 2348 (blksize), RFC 2349 (timeout, tsize), RFC 7440 (windowsize). Only options the client
 * asked for are acknowledged; unknown or malformed ones are ignored, never refused.
 */
import type { TftpOption } from "./packet.js";

/** RFC 1350 block size, used when the client negotiates none. */
export const DEFAULT_BLOCK_SIZE = 512;
/** RFC 2348 §2: valid blksize values. */
export const MIN_BLOCK_SIZE = 8;
export const MAX_BLOCK_SIZE = 65464;
/** RFC 2349 §2: valid timeout values, in seconds. */
export const MIN_TIMEOUT_SECONDS = 1;
export const MAX_TIMEOUT_SECONDS = 255;
/** RFC 7440 §2: valid windowsize values. */
export const MIN_WINDOW_SIZE = 1;
export const MAX_WINDOW_SIZE = 65535;
/** IPv4 (20) + UDP (8) + TFTP DATA header (4): what a DATA packet adds to its block (dnsmasq). */
export const PACKET_OVERHEAD = 32;
export const DEFAULT_MTU = 1500;
/** Default server limit on windowsize: 64 blocks keeps a window under 100 KiB at 1468 bytes. */
export const DEFAULT_MAX_WINDOW_SIZE = 64;
export const DEFAULT_TIMEOUT_MS = 1000;
/**
 * Largest `timeout` the server acknowledges. RFC 2349 allows 1-255 s, but a client asking for
 * 255 s would hold a transfer slot for minutes per ACK it withholds. RFC 2349 §2 lets the server
 * only echo the value or leave the option out, and RFC 2347 ("Negotiation Protocol") says an
 * option the server does not acknowledge is ignored by both sides, as if never requested: a
 * larger value is left out of the OACK and the transfer keeps the server's own timeout.
 */
export const DEFAULT_MAX_TIMEOUT_SECONDS = 10;
const MS_PER_SECOND = 1000;

export interface NegotiationLimits {
  /** Link MTU; blksize is clamped to `mtu − 32` so a DATA packet never fragments. */
  readonly mtu: number;
  /** Largest windowsize the server agrees to. */
  readonly maxWindowSize: number;
  /** Retransmission timeout when the client negotiates none. */
  readonly defaultTimeoutMs: number;
  /** Largest `timeout` acknowledged, in seconds. Default DEFAULT_MAX_TIMEOUT_SECONDS. */
  readonly maxTimeoutSeconds?: number;
}

export const DEFAULT_NEGOTIATION_LIMITS: NegotiationLimits = {
  mtu: DEFAULT_MTU,
  maxWindowSize: DEFAULT_MAX_WINDOW_SIZE,
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS,
};

export interface NegotiatedTransfer {
  readonly blockSize: number;
  readonly windowSize: number;
  readonly timeoutMs: number;
  /** What goes into the OACK, in the client's order and spelling; empty → no OACK (RFC 2347 §5). */
  readonly acknowledged: readonly TftpOption[];
}

/** The blksize the server accepts at most for a link MTU, never above RFC 2348's maximum. */
export function maxBlockSizeFor(mtu: number): number {
  return Math.max(MIN_BLOCK_SIZE, Math.min(mtu - PACKET_OVERHEAD, MAX_BLOCK_SIZE));
}

export function negotiateOptions(
  requested: readonly TftpOption[],
  fileSize: number,
  limits: NegotiationLimits = DEFAULT_NEGOTIATION_LIMITS,
): NegotiatedTransfer {
  let blockSize = DEFAULT_BLOCK_SIZE;
  let windowSize = MIN_WINDOW_SIZE;
  let timeoutMs = limits.defaultTimeoutMs;
  const maxTimeoutSeconds = limits.maxTimeoutSeconds ?? DEFAULT_MAX_TIMEOUT_SECONDS;
  const acknowledged: TftpOption[] = [];
  const seen = new Set<string>();

  for (const option of requested) {
    const name = option.name.toLowerCase();
    // RFC 2347 does not define repeats; the first occurrence wins, later ones are ignored.
    if (seen.has(name)) continue;
    seen.add(name);
    const value = parseDecimal(option.value);
    switch (name) {
      case "blksize":
        // RFC 2348 §2: the server may answer a smaller value than asked; below 8 is invalid.
        if (value === undefined || value < MIN_BLOCK_SIZE) break;
        blockSize = Math.min(value, maxBlockSizeFor(limits.mtu));
        acknowledged.push({ name: option.name, value: String(blockSize) });
        break;
      case "windowsize":
        // RFC 7440 §2: the server may answer a smaller value than asked.
        if (value === undefined || value < MIN_WINDOW_SIZE || value > MAX_WINDOW_SIZE) break;
        windowSize = Math.min(value, Math.max(MIN_WINDOW_SIZE, limits.maxWindowSize));
        acknowledged.push({ name: option.name, value: String(windowSize) });
        break;
      case "timeout":
        // RFC 2349 §2: the server must answer the same value or not acknowledge the option; a
        // value above our limit is not acknowledged (see DEFAULT_MAX_TIMEOUT_SECONDS).
        if (
          value === undefined ||
          value < MIN_TIMEOUT_SECONDS ||
          value > Math.min(MAX_TIMEOUT_SECONDS, maxTimeoutSeconds)
        ) {
          break;
        }
        timeoutMs = value * MS_PER_SECOND;
        acknowledged.push({ name: option.name, value: String(value) });
        break;
      case "tsize":
        // RFC 2349 §4: in a read request the client sends 0 and the server answers the size.
        if (value === undefined) break;
        acknowledged.push({ name: option.name, value: String(fileSize) });
        break;
    }
  }
  return { blockSize, windowSize, timeoutMs, acknowledged };
}

/** A plain non-negative decimal integer (no sign, no exponent, no hex), else undefined. */
function parseDecimal(value: string): number | undefined {
  const trimmed = value.trim();
  if (!/^\d{1,10}$/.test(trimmed)) return undefined;
  return Number(trimmed);
}
