import { execa } from "execa";
import { describe, expect, it } from "vitest";

const CLI = new URL("../dist/cli.js", import.meta.url).pathname;

describe("the metal command", () => {
  it("exits 2 on a bad flag of a subcommand, as its help documents", async () => {
    const result = await execa(process.execPath, [CLI, "deploy", "--reboot", "sometimes"], {
      reject: false,
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--reboot/);
  });

  it("exits 0 with the exit codes in its help", async () => {
    const result = await execa(process.execPath, [CLI, "--help"]);
    expect(result.stdout).toMatch(/2 {2}usage or configuration error/);
  });
});
