import { describe, expect, it } from "vitest";
import {
  DEFAULT_BLOCK_SIZE,
  DEFAULT_MAX_TIMEOUT_SECONDS,
  DEFAULT_NEGOTIATION_LIMITS,
  DEFAULT_TIMEOUT_MS,
  MAX_BLOCK_SIZE,
  maxBlockSizeFor,
  negotiateOptions,
} from "../../src/tftp/options.js";
import type { TftpOption } from "../../src/tftp/packet.js";

const options = (pairs: Record<string, string>): TftpOption[] =>
  Object.entries(pairs).map(([name, value]) => ({ name, value }));

describe("negotiateOptions", () => {
  it("acknowledges nothing and uses RFC 1350 defaults when nothing is asked", () => {
    expect(negotiateOptions([], 100)).toEqual({
      blockSize: DEFAULT_BLOCK_SIZE,
      windowSize: 1,
      timeoutMs: DEFAULT_TIMEOUT_MS,
      acknowledged: [],
    });
  });

  it("accepts the RFC 2348 example blksize 1432 as asked", () => {
    const result = negotiateOptions(options({ blksize: "1432" }), 0);
    expect(result.blockSize).toBe(1432);
    expect(result.acknowledged).toEqual(options({ blksize: "1432" }));
  });

  it("clamps blksize to MTU − 32 (1468 at MTU 1500), like dnsmasq", () => {
    const result = negotiateOptions(options({ blksize: "65464" }), 0);
    expect(result.blockSize).toBe(1468);
    expect(result.acknowledged).toEqual(options({ blksize: "1468" }));
    const jumbo = negotiateOptions(options({ blksize: "8192" }), 0, {
      ...DEFAULT_NEGOTIATION_LIMITS,
      mtu: 9000,
    });
    expect(jumbo.blockSize).toBe(8192);
  });

  it("never goes above RFC 2348's 65464, whatever the MTU", () => {
    expect(maxBlockSizeFor(70_000)).toBe(MAX_BLOCK_SIZE);
    const result = negotiateOptions(options({ blksize: "99999" }), 0, {
      ...DEFAULT_NEGOTIATION_LIMITS,
      mtu: 70_000,
    });
    expect(result.blockSize).toBe(MAX_BLOCK_SIZE);
  });

  it("ignores a blksize below 8 or not a number", () => {
    for (const value of ["7", "0", "-512", "abc", "0x200", "1e3", ""]) {
      const result = negotiateOptions(options({ blksize: value }), 0);
      expect(result.blockSize, value).toBe(DEFAULT_BLOCK_SIZE);
      expect(result.acknowledged, value).toEqual([]);
    }
  });

  it("answers tsize with the file size (RFC 2349 §4)", () => {
    const result = negotiateOptions(options({ tsize: "0" }), 673_312);
    expect(result.acknowledged).toEqual(options({ tsize: "673312" }));
  });

  it("accepts timeout up to the server's limit unchanged and uses it as the retransmission interval", () => {
    const result = negotiateOptions(options({ timeout: "3" }), 0);
    expect(result.timeoutMs).toBe(3000);
    expect(result.acknowledged).toEqual(options({ timeout: "3" }));
    const atLimit = String(DEFAULT_MAX_TIMEOUT_SECONDS);
    expect(negotiateOptions(options({ timeout: atLimit }), 0).acknowledged).toEqual(
      options({ timeout: atLimit }),
    );
    for (const value of ["0", "256", "x"]) {
      expect(negotiateOptions(options({ timeout: value }), 0).acknowledged, value).toEqual([]);
    }
  });

  it("leaves a timeout above its limit (255 s is valid RFC 2349) out of the OACK and keeps its own", () => {
    for (const value of [String(DEFAULT_MAX_TIMEOUT_SECONDS + 1), "255"]) {
      const result = negotiateOptions(options({ timeout: value, blksize: "1468" }), 0);
      expect(result.acknowledged, value).toEqual(options({ blksize: "1468" }));
      expect(result.timeoutMs, value).toBe(DEFAULT_TIMEOUT_MS);
    }
    const generous = { ...DEFAULT_NEGOTIATION_LIMITS, maxTimeoutSeconds: 255 };
    expect(negotiateOptions(options({ timeout: "255" }), 0, generous).timeoutMs).toBe(255_000);
  });

  it("accepts windowsize up to the server's limit and answers the smaller value (RFC 7440)", () => {
    expect(negotiateOptions(options({ windowsize: "4" }), 0).windowSize).toBe(4);
    const large = negotiateOptions(options({ windowsize: "1000" }), 0);
    expect(large.windowSize).toBe(DEFAULT_NEGOTIATION_LIMITS.maxWindowSize);
    expect(large.acknowledged).toEqual(options({ windowsize: "64" }));
    for (const value of ["0", "65536"]) {
      expect(negotiateOptions(options({ windowsize: value }), 0).acknowledged, value).toEqual([]);
    }
  });

  it("matches names case-insensitively and answers in the client's spelling and order", () => {
    const result = negotiateOptions(options({ TSIZE: "0", WindowSize: "8", BLKSIZE: "1024" }), 10);
    expect(result).toMatchObject({ blockSize: 1024, windowSize: 8 });
    expect(result.acknowledged).toEqual(options({ TSIZE: "10", WindowSize: "8", BLKSIZE: "1024" }));
  });

  it("ignores unknown options and repeats of an option", () => {
    const requested = [
      { name: "multicast", value: "" },
      { name: "blksize", value: "1024" },
      { name: "blksize", value: "8" },
      { name: "utimeout", value: "500" },
    ];
    const result = negotiateOptions(requested, 0);
    expect(result.blockSize).toBe(1024);
    expect(result.acknowledged).toEqual(options({ blksize: "1024" }));
  });
});
