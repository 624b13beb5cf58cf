/**
 * `metal power` and `metal reinstall` as the operator meets them: refusals that change nothing
 * and say why. (The real BMC path runs in lab-ipmi.netns.test.ts.)
 */
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FileStateStore } from "../../src/state/file-store.js";
import { LAB_INVENTORY, walkTo } from "../helpers.js";

/** Each test starts the CLI a few times; on a loaded 2-core machine that takes seconds. */
vi.setConfig({ testTimeout: 120_000 });

const CLI = new URL("../../dist/cli.js", import.meta.url).pathname;
let directory: string;
let inventory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "metal-power-cli-"));
  inventory = join(directory, "cluster.toml");
  await copyFile(LAB_INVENTORY, inventory);
  const store = await FileStateStore.open(join(directory, ".metal"));
  await store.register(["node1", "node2", "node3"]);
  await walkTo(store, "node1", "ready");
  await store.close();
});
afterEach(() => rm(directory, { recursive: true, force: true }));

const metal = (...args: string[]) =>
  execa(process.execPath, [CLI, ...args, "--inventory", inventory], {
    reject: false,
    stdin: "ignore",
    env: { METAL_SECRETS_DIR: join(directory, "secrets") },
  });

describe("metal reinstall", () => {
  it("refuses without a terminal and without --yes, and changes nothing", async () => {
    const before = await readFile(join(directory, ".metal", "state.json"), "utf8");
    const result = await metal("reinstall", "node1");
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(
      "metal reinstall: refusing to reinstall node1 without confirmation: no terminal to ask on; pass --yes",
    );
    expect(await readFile(join(directory, ".metal", "state.json"), "utf8")).toBe(before);
  });

  it("refuses a host that was never installed, and an unknown host", async () => {
    const pending = await metal("reinstall", "node2", "--yes");
    expect(pending.exitCode).toBe(2);
    expect(pending.stderr).toMatch(/node2 is pending, not installed, ready, failed/);
    const unknown = await metal("reinstall", "node9", "--yes");
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/no host "node9" in .*\(hosts: node1, node2, node3\)/);
  });

  it("checks every named host before it changes anything", async () => {
    const before = await readFile(join(directory, ".metal", "state.json"), "utf8");
    const typo = await metal("reinstall", "node1", "nod3", "--yes");
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toMatch(/no host "nod3"/);
    const notInstalled = await metal("reinstall", "node1", "node2", "--yes");
    expect(notInstalled.exitCode).toBe(2);
    expect(notInstalled.stderr).toMatch(/node2 is pending, .*nothing was changed/);
    expect(await readFile(join(directory, ".metal", "state.json"), "utf8")).toBe(before);
  });
});

describe("metal reinstall of an aarch64 host", () => {
  it("refuses, changing nothing, when no aarch64 installer is given, naming the --installer fix", async () => {
    const arm = join(directory, "arm.toml");
    await copyFile(new URL("../../../../examples/lab-arm64.toml", import.meta.url), arm);
    const armState = join(directory, "arm-state");
    const store = await FileStateStore.open(armState);
    await store.register(["arm1"]);
    await walkTo(store, "arm1", "ready");
    await store.close();
    const before = await readFile(join(armState, "state.json"), "utf8");
    const result = await execa(
      process.execPath,
      [CLI, "reinstall", "arm1", "--yes", "--inventory", arm, "--state", armState],
      { reject: false, stdin: "ignore", env: { METAL_SECRETS_DIR: join(directory, "secrets") } },
    );
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(
      /arm1 is aarch64 and no installer for aarch64 was given: .*--installer x86_64=…,aarch64=result-aarch64; nothing was changed/,
    );
    expect(await readFile(join(armState, "state.json"), "utf8")).toBe(before);
  });
});

describe("metal power", () => {
  it("exits 2 for what Wake-on-LAN cannot do, naming the fix", async () => {
    const result = await metal("power", "node1", "off");
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(
      /^metal power: host "node1": power driver "wol" cannot off; give the host a BMC/,
    );
  });

  it("exits 2 on an unknown action, with the exit codes in its help", async () => {
    expect((await metal("power", "node1", "explode")).exitCode).toBe(2);
    const help = await execa(process.execPath, [CLI, "power", "--help"]);
    expect(help.stdout).toMatch(/3 {2}status: the host is off/);
  });
});
