import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/install/errors.js";
import {
  firstStageFilesFor,
  runInstall,
  type InstallRunOptions,
} from "../../src/install/orchestrator.js";
import { EXIT_ALL_READY } from "../../src/install/summary.js";
import { loadInventory } from "../../src/inventory/load.js";
import type { Inventory } from "../../src/inventory/types.js";
import { createPowerDrivers } from "../../src/power/drivers.js";
import { FileStateStore } from "../../src/state/file-store.js";
import { LAB_INVENTORY, walkTo } from "../helpers.js";

let directory: string;
let inventory: Inventory;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "metal-orchestrator-"));
  inventory = await loadInventory(LAB_INVENTORY);
});
afterEach(() => rm(directory, { recursive: true, force: true }));

function options(overrides: Partial<InstallRunOptions> = {}): InstallRunOptions {
  return {
    inventory,
    stateDir: join(directory, "state"),
    installerDir: join(directory, "no-installer"),
    secretsDir: join(directory, "no-secrets"),
    power: createPowerDrivers({ secretsDir: join(directory, "no-secrets") }),
    httpPort: 8080,
    // Loopback, never the machine's own network: these runs must stop before serving anything.
    serverAddress: "127.0.0.1",
    signal: new AbortController().signal,
    view: () => {
      throw new Error("the progress view was created: the run went on to serve");
    },
    ...overrides,
  };
}

async function withAllReady(): Promise<void> {
  const store = await FileStateStore.open(join(directory, "state"));
  await store.register(inventory.hosts.map((host) => host.name));
  for (const host of inventory.hosts) await walkTo(store, host.name, "ready");
  await store.close();
}

describe("runInstall", () => {
  it("returns exit 0 at once when every host is ready, without installer files, keys or a server", async () => {
    await withAllReady();
    const summary = await runInstall(options());
    expect(summary.exitCode).toBe(EXIT_ALL_READY);
    expect(summary.rows.map((row) => [row.host, row.phase, row.durationMs])).toEqual([
      ["node1", "ready", 0],
      ["node2", "ready", 0],
      ["node3", "ready", 0],
    ]);
  });

  it("refuses to start, naming the missing keys and metal secrets init, before serving anything", async () => {
    const error: unknown = await runInstall(options()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/no-secrets\/admin\/id_ed25519.*metal secrets init/);
  });

  it("with --reinstall, a ready host needs its keys again: the run does not exit at once", async () => {
    await withAllReady();
    await expect(runInstall(options({ reinstall: ["node2"] }))).rejects.toThrow(
      /no-secrets\/hosts\/node2/,
    );
  });
});

describe("first stages to stage", () => {
  it("adds a host's first_stage override to the files the boot server stages", () => {
    const [first, ...rest] = inventory.hosts;
    if (!first) throw new Error("the lab inventory has no hosts");
    const withOverride = {
      ...inventory,
      hosts: [{ ...first, firstStage: "vendor-snp.efi" }, ...rest],
    };
    expect(firstStageFilesFor(withOverride)).toEqual([
      "undionly.kpxe",
      "ipxe.efi",
      "snponly.efi",
      "vendor-snp.efi",
    ]);
    expect(firstStageFilesFor(inventory)).toEqual(["undionly.kpxe", "ipxe.efi", "snponly.efi"]);
  });
});
