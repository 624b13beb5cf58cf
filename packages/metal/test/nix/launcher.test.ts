/**
 * The Nix launcher (nix/package.nix): its shell text, taken from the Nix file by nix-instantiate
 * (so Nix's own string escaping applies), run with writeShellApplication's shell options. Nix
 * cannot build the package here (no nixpkgs), but the script it would install is this text.
 */
import { execa } from "execa";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAUNCHER_SHELL_OPTIONS, launcherText } from "../helpers/nix-launcher.js";

const REPO = new URL("../../../../", import.meta.url).pathname;
const PACKAGE_JSON = new URL("../../package.json", import.meta.url);
/** A build on a busy machine takes a while. */
const LAUNCH_TIMEOUT_MS = 5 * 60 * 1000;

let text: string;
let elsewhere: string;

beforeAll(async () => {
  text = await launcherText(REPO);
  elsewhere = await mkdtemp(join(tmpdir(), "metal-launcher-"));
});
afterAll(() => rm(elsewhere, { recursive: true, force: true }));

const launch = (cwd: string, args: string[], env: Record<string, string> = {}) =>
  execa(
    "bash",
    [...LAUNCHER_SHELL_OPTIONS.flatMap((option) => ["-o", option]), "-c", text, "metal", ...args],
    {
      cwd,
      reject: false,
      env,
    },
  );

describe("the metal launcher of the flake's devShell", () => {
  it("refuses outside a checkout and says where to run it", async () => {
    const result = await launch(elsewhere, ["--version"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("no metal checkout here");
  });

  it(
    "builds the checkout when needed and runs its CLI, from a folder inside the checkout",
    async () => {
      const { version } = JSON.parse(await readFile(PACKAGE_JSON, "utf8")) as { version: string };
      const result = await launch(join(REPO, "examples"), ["--version"]);
      expect(result.stderr).not.toContain("no metal checkout");
      expect(result.exitCode).toBe(0);
      expect(result.stdout.trim()).toBe(version);
    },
    LAUNCH_TIMEOUT_MS,
  );

  it(
    "runs the checkout named by METAL_CHECKOUT from anywhere",
    async () => {
      const result = await launch(elsewhere, ["--version"], { METAL_CHECKOUT: REPO });
      expect(result.exitCode).toBe(0);
    },
    LAUNCH_TIMEOUT_MS,
  );
});
