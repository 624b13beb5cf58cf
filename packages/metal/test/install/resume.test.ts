import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/install/errors.js";
import { prepareRun, type PrepareOptions } from "../../src/install/resume.js";
import { FileStateStore } from "../../src/state/file-store.js";
import type { Host } from "../../src/inventory/types.js";
import { fixture, walkTo, type Fixture } from "../helpers.js";

let f: Fixture;
beforeEach(async () => {
  f = await fixture();
});
afterEach(() => f.cleanup());

/** No host answers SSH with its pinned key. */
const silent = async () => false;

/** A run's start over the fixture: no --reinstall and no host answering, unless `options` say so. */
const prepare = (options: Partial<PrepareOptions> = {}) =>
  prepareRun({
    store: f.store,
    inventory: f.inventory,
    reinstall: [],
    installedAnswers: silent,
    ...options,
  });

const INSTALLER = {
  ip: "10.77.0.150",
  sshHostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake root@installer",
};

async function toInstallerWithFacts(host: string): Promise<void> {
  await walkTo(f.store, host, "pxe");
  await f.store.change(host, {
    expect: "pxe",
    to: "installer",
    step: "test: callback",
    update: () => ({
      installer: {
        ...INSTALLER,
        facts: {
          agent: "test",
          mac: "52:54:00:77:00:01",
          ip: INSTALLER.ip,
          sshHostKey: INSTALLER.sshHostKey,
          firmware: "bios",
          memoryBytes: 1,
          disks: [],
        },
      },
    }),
  });
}

describe("what a run does with the state it finds", () => {
  it("gives failed hosts a new attempt and leaves ready hosts alone", async () => {
    await walkTo(f.store, "node1", "failed");
    await walkTo(f.store, "node2", "ready");
    await prepare();
    expect(f.store.host("node1")).toMatchObject({ phase: "pending", attempt: 2 });
    expect(f.store.host("node2")).toMatchObject({ phase: "ready", attempt: 1 });
  });

  it("reinstalls a ready host only when --reinstall names it", async () => {
    await walkTo(f.store, "node2", "ready");
    await prepare({ reinstall: ["node2"] });
    expect(f.store.host("node2")).toMatchObject({ phase: "pending", attempt: 2 });
  });

  it("refuses --reinstall of a host that is not in the inventory", async () => {
    await expect(prepare({ reinstall: ["node9"] })).rejects.toThrow(ConfigError);
  });

  it("runs the install again for a host caught installing whose installer still answers", async () => {
    await toInstallerWithFacts("node1");
    await f.store.change("node1", { expect: "installer", to: "installing", step: "test" });
    const asked: string[] = [];
    await prepare({ installerAnswers: async (address) => (asked.push(address), true) });
    expect(asked).toEqual([INSTALLER.ip]);
    expect(f.store.host("node1")).toMatchObject({ phase: "installer", attempt: 1 });
    expect(f.store.host("node1")?.installer?.ip).toBe(INSTALLER.ip);
  });

  it("starts a host over from PXE when its installer went away while metal was down", async () => {
    await toInstallerWithFacts("node1");
    await prepare({ installerAnswers: async () => false });
    expect(f.store.host("node1")).toMatchObject({ phase: "pending", attempt: 2 });
    expect(f.store.host("node1")?.installer).toBeUndefined();
    const history = await f.store.history();
    expect(history.at(-2)).toMatchObject({ type: "host.phase", to: "failed" });
  });

  it("never sends a host that failed waiting for its first boot back to the installer", async () => {
    await walkTo(f.store, "node1", "installed");
    await f.store.change("node1", {
      expect: "installed",
      to: "failed",
      step: "no first boot",
      reason: "silent",
    });
    await prepare();
    expect(f.store.host("node1")).toMatchObject({ phase: "installed", attempt: 1 });
    // Up by now: its pinned key answers, so it is ready without a callback.
    await f.store.change("node1", { expect: "installed", to: "failed", step: "no first boot" });
    await prepare({ installedAnswers: async (host) => host.name === "node1" });
    expect(f.store.host("node1")).toMatchObject({ phase: "ready", attempt: 1 });
  });

  it("still reinstalls a host that failed waiting for its first boot when --reinstall names it", async () => {
    await walkTo(f.store, "node1", "installed");
    await f.store.change("node1", { expect: "installed", to: "failed", step: "no first boot" });
    await prepare({ reinstall: ["node1"], installedAnswers: async () => true });
    expect(f.store.host("node1")).toMatchObject({ phase: "pending", attempt: 2 });
  });

  it("marks an installed host ready when its pinned key answers at the start of a run", async () => {
    await walkTo(f.store, "node2", "installed");
    await prepare({ installedAnswers: async (host) => host.name === "node2" });
    expect(f.store.host("node2")?.phase).toBe("ready");
  });

  it("does not make installed hosts pending when the state directory is gone", async () => {
    // A fresh, empty state directory (`git clean -xfd` removed .metal/).
    const store = await FileStateStore.open(`${f.directory}/fresh-state`);
    try {
      const asked: Host[] = [];
      await prepare({
        store,
        installedAnswers: async (host) => (asked.push(host), host.name !== "node3"),
      });
      expect(asked.map((host) => [host.name, host.address]).sort()).toEqual(
        f.inventory.hosts.map((host) => [host.name, host.address]).sort(),
      );
      expect(store.host("node1")).toMatchObject({ phase: "ready", attempt: 1 });
      expect(store.host("node1")?.lastStep).toContain(
        `pinned SSH host key answered on ${f.inventory.hosts[0]!.address}`,
      );
      expect(store.host("node3")?.phase).toBe("pending");
    } finally {
      await store.close();
    }
  });
});
