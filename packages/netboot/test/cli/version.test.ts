import { readFileSync } from "node:fs";
import { execa } from "execa";
import { describe, expect, it } from "vitest";

const CLI = new URL("../../dist/cli.js", import.meta.url).pathname;
const PACKAGE = JSON.parse(
  readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
) as { version: string };

describe("netboot --version", () => {
  it.each(["--version", "-V"])("%s prints package.json's version and exits 0", async (flag) => {
    const result = await execa(process.execPath, [CLI, flag], { reject: false });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(PACKAGE.version);
  });
});
