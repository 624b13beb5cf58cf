import { execa } from "execa";
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";

const CLI = new URL("../dist/cli.js", import.meta.url).pathname;

/** Each test starts the CLI, which loads every command: a busy machine needs time. */
const CLI_TIMEOUT_MS = 60_000;

describe("the metal command", { timeout: CLI_TIMEOUT_MS }, () => {
  it("exits 2 on a bad flag of a subcommand, as its help documents", async () => {
    const result = await execa(process.execPath, [CLI, "deploy", "--reboot", "sometimes"], {
      reject: false,
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--reboot/);
  });

  it("prints its package's version with --version and -V, exit 0", async () => {
    const { version } = JSON.parse(
      await readFile(new URL("../package.json", import.meta.url), "utf8"),
    ) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const result = await execa(process.execPath, [CLI, flag]);
      expect(result.stdout.trim()).toBe(version);
    }
    expect((await execa(process.execPath, [CLI, "--help"])).stdout).toContain("--version");
  });

  it("documents the preflight in install's exit codes and the shared flags on check and install", async () => {
    for (const command of ["check", "install"]) {
      const help = (await execa(process.execPath, [CLI, command, "--help"])).stdout;
      for (const flag of ["--ipxe-dir", "--interface", "--secrets-dir", "--installer"])
        expect(help, `${command} --help`).toContain(flag);
      expect(help).toMatch(/Exit codes:/);
    }
  });

  it("exits 0 with the exit codes in its help", async () => {
    const result = await execa(process.execPath, [CLI, "--help"]);
    expect(result.stdout).toMatch(/2 {2}usage or configuration error/);
  });
});
