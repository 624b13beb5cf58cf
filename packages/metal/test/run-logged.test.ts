import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runLogged, TAIL_LINES } from "../src/run-logged.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "metal-run-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("runLogged", () => {
  it("appends every attempt's output to the log and keeps the last lines", async () => {
    const logFile = path.join(dir, "logs", "node1.log");
    const script = `for i in $(seq 1 30); do echo line $i; done; echo oops >&2; exit 3`;
    const first = await runLogged({ argv: ["sh", "-c", script], logFile, header: "attempt 1" });
    expect(first.exitCode).toBe(3);
    expect(first.tail).toHaveLength(TAIL_LINES);
    expect(first.tail.at(-1)).toBe("oops");
    expect(first.stdout).not.toContain("oops");
    expect(first.stdout.split("\n").at(-1)).toBe("line 30");
    await runLogged({ argv: ["sh", "-c", "echo second"], logFile, header: "attempt 2" });
    const log = await readFile(logFile, "utf8");
    expect(log).toContain("attempt 1");
    expect(log).toContain("line 30");
    expect(log).toContain("exit code 3");
    expect(log).toContain("attempt 2");
    expect(log).toContain("second");
  });

  it("kills the command when the signal aborts", async () => {
    const controller = new AbortController();
    const run = runLogged({
      argv: ["sleep", "30"],
      logFile: path.join(dir, "x.log"),
      header: "attempt 1",
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 100);
    const result = await run;
    expect(result.exitCode).toBeUndefined();
    expect(result.signal).toBe("SIGTERM");
  });
});
