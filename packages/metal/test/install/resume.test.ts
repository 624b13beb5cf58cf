import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/install/errors.js";
import { prepareRun } from "../../src/install/resume.js";
import { fixture, walkTo, type Fixture } from "../helpers.js";

let f: Fixture;
beforeEach(async () => {
  f = await fixture();
});
afterEach(() => f.cleanup());

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
    await prepareRun({ store: f.store, inventory: f.inventory, reinstall: [] });
    expect(f.store.host("node1")).toMatchObject({ phase: "pending", attempt: 2 });
    expect(f.store.host("node2")).toMatchObject({ phase: "ready", attempt: 1 });
  });

  it("reinstalls a ready host only when --reinstall names it", async () => {
    await walkTo(f.store, "node2", "ready");
    await prepareRun({ store: f.store, inventory: f.inventory, reinstall: ["node2"] });
    expect(f.store.host("node2")).toMatchObject({ phase: "pending", attempt: 2 });
  });

  it("refuses --reinstall of a host that is not in the inventory", async () => {
    await expect(
      prepareRun({ store: f.store, inventory: f.inventory, reinstall: ["node9"] }),
    ).rejects.toThrow(ConfigError);
  });

  it("runs the install again for a host caught installing whose installer still answers", async () => {
    await toInstallerWithFacts("node1");
    await f.store.change("node1", { expect: "installer", to: "installing", step: "test" });
    const asked: string[] = [];
    await prepareRun({
      store: f.store,
      inventory: f.inventory,
      reinstall: [],
      installerAnswers: async (address) => (asked.push(address), true),
    });
    expect(asked).toEqual([INSTALLER.ip]);
    expect(f.store.host("node1")).toMatchObject({ phase: "installer", attempt: 1 });
    expect(f.store.host("node1")?.installer?.ip).toBe(INSTALLER.ip);
  });

  it("starts a host over from PXE when its installer went away while metal was down", async () => {
    await toInstallerWithFacts("node1");
    await prepareRun({
      store: f.store,
      inventory: f.inventory,
      reinstall: [],
      installerAnswers: async () => false,
    });
    expect(f.store.host("node1")).toMatchObject({ phase: "pending", attempt: 2 });
    expect(f.store.host("node1")?.installer).toBeUndefined();
    const history = await f.store.history();
    expect(history.at(-2)).toMatchObject({ type: "host.phase", to: "failed" });
  });
});
