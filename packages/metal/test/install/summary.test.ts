import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  buildSummary,
  EXIT_ALL_READY,
  EXIT_HOSTS_FAILED,
  EXIT_INTERRUPTED,
  formatSummary,
} from "../../src/install/summary.js";
import { fixture, walkTo, type Fixture } from "../helpers.js";

let f: Fixture;
beforeEach(async () => {
  f = await fixture();
});
afterEach(() => f.cleanup());

const logFile = (host: string) => join(f.directory, "logs", `${host}.log`);
const summarise = (interrupted = false) =>
  buildSummary({
    store: f.store,
    hosts: ["node1", "node2", "node3"],
    logFile,
    finishedAt: new Map([["node1", 61_000]]),
    startedAt: 1_000,
    now: 31_000,
    interrupted,
  });

describe("install summary", () => {
  it("exits 0 when every host is ready", async () => {
    for (const host of ["node1", "node2", "node3"]) await walkTo(f.store, host, "ready");
    const summary = await summarise();
    expect(summary.exitCode).toBe(EXIT_ALL_READY);
    expect(summary.failed).toEqual([]);
    expect(summary.rows.map((row) => row.durationMs)).toEqual([60_000, 30_000, 30_000]);
    expect(formatSummary(summary)).toContain("all 3 hosts ready");
  });

  it("exits 1 naming the failed host, its reason, phase and the last lines of its log", async () => {
    await walkTo(f.store, "node1", "ready");
    await walkTo(f.store, "node3", "ready");
    await walkTo(f.store, "node2", "installing");
    await f.store.change("node2", {
      expect: "installing",
      to: "failed",
      step: "install failed 3 times",
      reason: "install command failed (exit code 7)",
    });
    await mkdir(join(f.directory, "logs"));
    await writeFile(logFile("node2"), "starting\ndisk busy\nfatal: cannot partition /dev/vda\n");
    const summary = await summarise();
    expect(summary.exitCode).toBe(EXIT_HOSTS_FAILED);
    expect(summary.failed).toEqual(["node2"]);
    const text = formatSummary(summary);
    expect(text).toMatch(/^HOST\s+PHASE\s+ATTEMPT\s+DURATION\s+LOG$/m);
    expect(text).toMatch(/^node2\s+failed\s+1\s+30s\s+\S+node2\.log$/m);
    expect(text).toContain(
      "node2 failed in phase installing: install command failed (exit code 7)",
    );
    expect(text).toContain("  | fatal: cannot partition /dev/vda");
    expect(text).toContain("not ready: node2;");
  });

  it("exits 130 when interrupted, listing the hosts that are not ready yet", async () => {
    await walkTo(f.store, "node1", "ready");
    const summary = await summarise(true);
    expect(summary.exitCode).toBe(EXIT_INTERRUPTED);
    expect(formatSummary(summary)).toContain("interrupted: 2 hosts not ready (node2, node3)");
  });
});
