import { describe, expect, it } from "vitest";
import {
  DHCP_OPTIONS,
  DhcpDecodeError,
  decodeDhcp,
  encodeDhcp,
  MAGIC_COOKIE,
  proxyReply,
  readOption,
} from "../../src/index.js";
import { fuzzDecoder, fuzzSettings } from "../support/fuzz.js";
import { allCapturedPayloads } from "./fixtures.js";

const FUZZ = fuzzSettings(0x5eed);
const MAX_RANDOM_LENGTH = 700;
const OPTIONS_START = 240;

function randomPacket(random: () => number, seeds: readonly Buffer[]): Buffer {
  const int = (max: number) => Math.floor(random() * max);
  const kind = int(4);
  if (kind === 0) {
    // Pure noise, often too short or without the cookie.
    return Buffer.from(Array.from({ length: int(MAX_RANDOM_LENGTH) }, () => int(256)));
  }
  if (kind === 1) {
    // A valid header and cookie followed by random option bytes: exercises the option walker.
    const options = Array.from({ length: int(MAX_RANDOM_LENGTH - OPTIONS_START) }, () => int(256));
    const header = Buffer.alloc(OPTIONS_START);
    MAGIC_COOKIE.copy(header, 236);
    for (let i = 0; i < 236; i++) if (random() < 0.1) header[i] = int(256);
    return Buffer.concat([header, Buffer.from(options)]);
  }
  // A captured packet with bytes flipped, options cut short or spliced.
  const seed = Buffer.from(seeds[int(seeds.length)] as Buffer);
  const flips = 1 + int(8);
  for (let i = 0; i < flips; i++) {
    const at = OPTIONS_START + int(Math.max(1, seed.length - OPTIONS_START));
    if (at < seed.length) seed[at] = int(256);
  }
  if (random() < 0.3) seed[2] = int(256); // hlen
  if (random() < 0.2) Buffer.from([52, 1, 1 + int(3)]).copy(seed, OPTIONS_START); // overload
  return kind === 2 ? seed : seed.subarray(0, int(seed.length + 1));
}

/** Decodes, reads every option, and runs the proxy decision on what decodes. */
function exercise(bytes: Buffer): void {
  const packet = decodeDhcp(bytes);
  try {
    for (const spec of DHCP_OPTIONS) {
      try {
        readOption(packet, spec.name);
      } catch (error) {
        if (!(error instanceof DhcpDecodeError)) throw error;
      }
    }
    // The decision function turns any decodable packet into a reason or a reply that encodes.
    for (const port of [67, 4011]) {
      const outcome = proxyReply({
        request: packet,
        port,
        source: { address: "10.0.0.9", port: 68 },
        serverAddress: "10.0.0.1",
        bootFile: "undionly.kpxe",
        broadcastAddress: "255.255.255.255",
      });
      if ("reply" in outcome) decodeDhcp(encodeDhcp(outcome.reply));
    }
  } catch (error) {
    if (!(error instanceof DhcpDecodeError)) throw error;
  }
}

describe("DHCP decoder under fuzzing", () => {
  it(`throws nothing but DhcpDecodeError for ${FUZZ.iterations} random and mutated packets (seed ${FUZZ.seed})`, () => {
    const seeds = allCapturedPayloads();
    const { decoded } = fuzzDecoder({
      settings: FUZZ,
      generate: (random) => randomPacket(random, seeds),
      exercise,
      typedError: DhcpDecodeError,
    });
    // The mutations must reach past the structural checks, or the test proves little.
    expect(decoded).toBeGreaterThan(FUZZ.iterations / 10);
  }, 120_000);
});
