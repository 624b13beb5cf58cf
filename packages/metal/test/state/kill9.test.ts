import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileStateStore, readHistory, readStateFile } from "../../src/state/file-store.js";

const WRITER = new URL("fixtures/busy-writer.ts", import.meta.url).pathname;
const ROUNDS = 25;
const MAX_RUN_MS = 60;

/** Starts the writer, kills it with SIGKILL at a random moment mid-write, returns its last confirmed counter. */
function runAndKill(directory: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", WRITER, directory], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      output += chunk;
      if (!killTimer && output.includes("ready\n")) {
        killTimer = setTimeout(() => child.kill("SIGKILL"), 1 + Math.random() * MAX_RUN_MS);
      }
    });
    child.on("error", reject);
    child.on("close", (_code, signal) => {
      if (signal !== "SIGKILL") return reject(new Error(`writer ended without SIGKILL: ${output}`));
      const confirmed = output
        .split("\n")
        .filter((line) => /^[0-9]+$/.test(line))
        .map(Number);
      resolve(confirmed.at(-1) ?? -1);
    });
  });
}

describe("FileStateStore under kill -9", () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "metal-state-kill-"));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it("always loads either the last confirmed change or the one in flight, never a torn file", async () => {
    let previous = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const confirmed = await runAndKill(directory);
      const state = await readStateFile(join(directory, "state.json"));
      const step = state.hosts.node1?.lastStep ?? "step 0";
      const counter = Number(step.replace(/^step /, ""));
      // The change after the last printed one may have reached the disk before the kill.
      const lastConfirmed = confirmed === -1 ? previous : confirmed;
      expect([lastConfirmed, lastConfirmed + 1]).toContain(counter);
      expect(Object.keys(state.hosts).sort()).toEqual(["node1", "node2", "node3"]);
      previous = counter;
      // Reopening cleans up what the crash left and the store keeps working.
      const store = await FileStateStore.open(directory);
      expect(store.host("node1")?.lastStep).toBe(step);
      await store.close();
      expect((await readdir(directory)).filter((name) => name.includes(".tmp-"))).toEqual([]);
    }
    const history = await readHistory(join(directory, "events.jsonl"));
    expect(history.length).toBeGreaterThan(ROUNDS);
    expect(history.every((event) => typeof event.seq === "number")).toBe(true);
  }, 120_000);
});
