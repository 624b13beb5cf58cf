import { describe, expect, it } from "vitest";
import { loadInventory } from "../../src/inventory/load.js";
import { parseInventory } from "../../src/inventory/load.js";
import type { ClusterState } from "../../src/state/types.js";
import { formatStatus, statusReport } from "../../src/status/report.js";
import { LAB_INVENTORY } from "../helpers.js";

const STATE: ClusterState = {
  version: 1,
  seq: 9,
  hosts: {
    node1: {
      name: "node1",
      phase: "ready",
      attempt: 1,
      lastStep: "first boot called back from 10.77.0.11",
      since: 1_700_000_000_000,
      updatedAt: 0,
      tokens: {},
    },
    node2: {
      name: "node2",
      phase: "failed",
      attempt: 2,
      lastStep: "install command failed",
      failure: { reason: "install command exited 1 three times", phase: "installing" },
      since: 1_700_000_000_000,
      updatedAt: 0,
      tokens: {},
    },
  },
  unknownMachines: {
    "52:54:00:77:00:33": {
      mac: "52:54:00:77:00:33",
      firstSeen: 1_700_000_000_000,
      lastSeen: 1_700_000_060_000,
      count: 3,
      arch: 7,
    },
    "aa:bb:cc:00:00:01": {
      mac: "aa:bb:cc:00:00:01",
      firstSeen: 1_700_000_000_000,
      lastSeen: 1_700_000_000_000,
      count: 1,
      arch: 11,
    },
  },
};

/** The unknown machines a run kept in memory (boot/unknown-machines.ts); the state has none. */
const UNKNOWN = Object.values(STATE.unknownMachines);

describe("metal status", () => {
  it("lists every host with phase, attempt and last step; hosts without state are pending", async () => {
    const report = statusReport(STATE, await loadInventory(LAB_INVENTORY), UNKNOWN);
    expect(report.hosts.map((h) => [h.name, h.phase, h.attempt])).toEqual([
      ["node1", "ready", 1],
      ["node2", "failed", 2],
      ["node3", "pending", undefined],
    ]);
    const text = formatStatus(report);
    expect(text).toMatch(
      /^node2 +failed +2 +2023-11-14T22:13:20Z +install command exited 1 three times \(failed in installing\)$/m,
    );
    expect(text).toMatch(/^node3 +pending +- +- +not started \(no state yet\)$/m);
  });

  it("lists unknown machines with a ready-to-paste [[hosts]] block and spots a likely MAC typo", async () => {
    const inventory = await loadInventory(LAB_INVENTORY);
    const report = statusReport(STATE, inventory, UNKNOWN);
    const [typo, arm] = report.unknownMachines;
    expect(typo?.likelyTypoOf).toBe("node3");
    expect(typo?.snippet).toBe(
      [
        "[[hosts]]",
        'name = "node4"',
        'mac = "52:54:00:77:00:33"',
        'ip = "10.77.0.14/24"', // after the highest host (.13), clear of the router and metal
        'role = "agent"',
        'disk = "/dev/sda"                      # check: the disk to install to (best /dev/disk/by-id/…)',
      ].join("\n"),
    );
    expect(arm?.snippet).toContain('name = "node5"');
    expect(arm?.snippet).toContain('ip = "10.77.0.15/24"');
    expect(arm?.snippet).toContain('arch = "aarch64"');
    // Pasted into the inventory, the snippets load (the whole point of "ready to paste").
    const source = await import("node:fs/promises").then((fs) =>
      fs.readFile(LAB_INVENTORY, "utf8"),
    );
    const pasted = parseInventory(
      `${source.replace(/\n\[\[lab\.machines\]\][\s\S]*$/, "\n")}\n${typo?.snippet}\n\n${arm?.snippet}\n`,
      "pasted.toml",
    );
    expect(pasted.hosts.map((h) => h.name)).toEqual(["node1", "node2", "node3", "node4", "node5"]);
    expect(formatStatus(report)).toContain(
      "52:54:00:77:00:33  seen 3×, first 2023-11-14T22:13:20Z, last 2023-11-14T22:14:20Z, arch 7; looks like a typo of node3's MAC",
    );
  });

  it("works from the state alone, flagging hosts the inventory does not list", () => {
    const report = statusReport(STATE, undefined, UNKNOWN);
    expect(report.hosts.map((h) => h.name)).toEqual(["node1", "node2"]);
    expect(report.unknownMachines[0]?.snippet).toBeUndefined();
  });
});

describe("metal status command", () => {
  it("prints the state of a state directory as JSON, with the unknown machines metal install kept", async () => {
    const { execa } = await import("execa");
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { FileStateStore } = await import("../../src/state/file-store.js");
    const directory = await mkdtemp(join(tmpdir(), "metal-status-"));
    try {
      const store = await FileStateStore.open(directory);
      await store.register(["node1"]);
      await store.change("node1", {
        expect: "pending",
        to: "pxe",
        step: "PXE: DHCP from bios firmware",
      });
      await store.close();
      const { UnknownMachines } = await import("../../src/boot/unknown-machines.js");
      const unknown = new UnknownMachines({ stateDir: directory });
      unknown.record({ mac: "52:54:00:77:00:33", arch: 7 });
      await unknown.close();
      const cli = new URL("../../dist/cli.js", import.meta.url).pathname;
      const result = await execa(process.execPath, [
        cli,
        "status",
        "--json",
        "--state",
        directory,
        "--inventory",
        LAB_INVENTORY,
      ]);
      const report = JSON.parse(result.stdout) as {
        hosts: Array<{ name: string; phase: string; lastStep: string }>;
        unknownMachines: Array<{ mac: string; likelyTypoOf: string }>;
      };
      expect(report.unknownMachines).toMatchObject([
        { mac: "52:54:00:77:00:33", likelyTypoOf: "node3" },
      ]);
      expect(report.hosts.map((h) => [h.name, h.phase])).toEqual([
        ["node1", "pxe"],
        ["node2", "pending"],
        ["node3", "pending"],
      ]);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
