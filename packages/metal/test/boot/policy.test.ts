import type { BootPolicy, Mac } from "netboot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InstallerArtifactsError } from "../../src/boot/errors.js";
import { checkToken } from "../../src/callback/tokens.js";
import { PHASES, type Phase } from "../../src/state/types.js";
import { INSTALLER_PHASES } from "../../src/state/lifecycle.js";
import { fixture, walkTo, type Fixture } from "../helpers.js";
import { wiredPolicy, type WiredPolicy } from "../helpers/pxe-boot.js";

const NODE1 = "52:54:00:77:00:01" as Mac;
const UNKNOWN = "52:54:00:99:00:01" as Mac;
const CALLBACK = "http://10.77.0.2:8080/callback/v1";
/** The address the router gave node1 (its PXE DHCP asked for it). */
const NODE1_DHCP = "10.77.0.130";
const STRANGER = "10.77.0.66";

describe("boot policy", () => {
  let f: Fixture;
  let policy: BootPolicy;
  let wired: WiredPolicy;
  beforeEach(async () => {
    f = await fixture();
    wired = await wiredPolicy({
      inventory: f.inventory,
      store: f.store,
      installerDir: f.installerDir,
      callbackBaseUrl: CALLBACK,
      clock: () => f.now,
    });
    policy = wired.policy;
  });
  afterEach(() => f.cleanup());

  const finished = PHASES.filter((phase) => !INSTALLER_PHASES.includes(phase));
  for (const phase of finished) {
    it(`never gives the installer to a host in phase ${phase}, at DHCP or script stage`, async () => {
      await walkTo(f.store, "node1", phase);
      wired.dhcpRequest(NODE1, NODE1_DHCP);
      for (const stage of ["dhcp", "script"] as const) {
        const address = NODE1_DHCP;
        expect(await policy({ mac: NODE1, stage, firmware: "uefi-x64", arch: 7, address })).toEqual(
          {
            action: "local",
          },
        );
      }
      expect(f.store.host("node1")?.phase).toBe(phase);
      expect(f.store.host("node1")?.tokens.installer).toBeUndefined();
    });
  }

  it("moves a pending host to pxe on its first DHCP packet and boots the installer", async () => {
    await walkTo(f.store, "node1", "waking");
    const decision = await policy({ mac: NODE1, stage: "dhcp", firmware: "uefi-x64", arch: 7 });
    expect(decision).toMatchObject({ action: "boot", spec: { cmdline: "init=/init loglevel=4" } });
    expect(f.store.host("node1")).toMatchObject({
      phase: "pxe",
      lastStep: "PXE: DHCP from uefi-x64 firmware",
    });
  });

  it("names UEFI HTTP boot in the step of a host whose firmware asked as an HTTP boot client", async () => {
    await walkTo(f.store, "node1", "waking");
    const decision = await policy({
      mac: NODE1,
      stage: "dhcp",
      firmware: "uefi-x64",
      arch: 16,
      httpBoot: true,
    });
    expect(decision).toMatchObject({ action: "boot" });
    expect(f.store.host("node1")).toMatchObject({
      phase: "pxe",
      lastStep: "UEFI HTTP boot: DHCP from uefi-x64 firmware",
    });
  });

  it("mints a token at script stage and puts callback, token, host and BOOTIF on the cmdline", async () => {
    wired.dhcpRequest(NODE1, NODE1_DHCP);
    await policy({ mac: NODE1, stage: "dhcp", firmware: "bios", arch: 0 });
    const decision = await policy({ mac: NODE1, stage: "script", address: NODE1_DHCP });
    if (decision.action !== "boot") throw new Error(`expected boot, got ${decision.action}`);
    expect(decision.spec.kernel).toBe(`${f.installerDir}/bzImage`);
    expect(decision.spec.initrds).toEqual([`${f.installerDir}/initrd`]);
    const match =
      /^init=\/init loglevel=4 metal\.callback=(\S+) metal\.token=(mt1\.[A-Za-z0-9_-]{43}) metal\.host=node1 BOOTIF=01-52-54-00-77-00-01$/.exec(
        decision.spec.cmdline ?? "",
      );
    expect(match?.[1]).toBe(CALLBACK);
    const hosts = Object.values(f.store.snapshot().hosts);
    expect(checkToken(hosts, match?.[2], "installer", f.now)).toMatchObject({
      ok: true,
      host: { name: "node1" },
    });
    expect(f.store.host("node1")?.phase).toBe("pxe");
  });

  it("gives the installer only to an address node1's own PXE DHCP named; a fetch from elsewhere gets nothing and is recorded", async () => {
    wired.dhcpRequest(NODE1, NODE1_DHCP);
    await policy({ mac: NODE1, stage: "dhcp", firmware: "bios", arch: 0 });
    const refused = await policy({ mac: NODE1, stage: "script", address: STRANGER });
    expect(refused).toMatchObject({ action: "ignore" });
    expect(JSON.stringify(refused)).not.toContain("metal.token");
    expect(f.store.host("node1")?.tokens.installer).toBeUndefined();
    expect(f.store.host("node1")?.lastStep).toBe(
      `installer script refused to ${STRANGER}: ${NODE1}'s PXE DHCP named ${NODE1_DHCP}`,
    );
    // Before any DHCP from node1's MAC, nobody gets it either.
    const fresh = await wiredPolicy({
      inventory: f.inventory,
      store: f.store,
      installerDir: f.installerDir,
      callbackBaseUrl: CALLBACK,
    });
    expect(await fresh.policy({ mac: NODE1, stage: "script", address: NODE1_DHCP })).toMatchObject({
      action: "ignore",
    });
  });

  it("serves the same token again to the same requester: a re-fetch does not rotate it", async () => {
    const first = await wired.pxeBoot(NODE1, NODE1_DHCP);
    const second = await wired.pxeBoot(NODE1, NODE1_DHCP);
    expect(first).toBeDefined();
    expect(second).toBe(first);
    const hosts = Object.values(f.store.snapshot().hosts);
    expect(checkToken(hosts, first, "installer", f.now)).toMatchObject({ ok: true });
  });

  it("puts the host in a visible conflict when a second, different requester named by the MAC's DHCP asks: no token, no install", async () => {
    const first = await wired.pxeBoot(NODE1, NODE1_DHCP);
    expect(await wired.pxeBoot(NODE1, STRANGER)).toBeUndefined();
    const record = f.store.host("node1");
    expect(record?.phase).toBe("failed");
    expect(record?.failure?.reason).toMatch(
      new RegExp(`^installer conflict in attempt 1: .*first ${NODE1_DHCP}, then ${STRANGER}`),
    );
    const hosts = Object.values(f.store.snapshot().hosts);
    // The first requester's token no longer moves the host anywhere: it is failed.
    expect(checkToken(hosts, first, "installer", f.now)).toMatchObject({ ok: true });
    expect(await policy({ mac: NODE1, stage: "script", address: NODE1_DHCP })).toEqual({
      action: "local",
    });
  });

  it("ignores unknown MACs and records them in memory, not in the state", async () => {
    expect(await policy({ mac: UNKNOWN, stage: "dhcp", arch: 7 })).toEqual({
      action: "ignore",
      reason: "MAC not in the inventory (listed by `metal status`)",
    });
    const seqBefore = f.store.snapshot().seq;
    await policy({ mac: UNKNOWN, stage: "dhcp", arch: 7 });
    expect(wired.unknownMachines.list()).toMatchObject([{ mac: UNKNOWN, count: 2, arch: 7 }]);
    expect(f.store.snapshot().seq).toBe(seqBefore);
  });

  it("passes a host's first_stage override with every decision", async () => {
    const inventory = {
      ...f.inventory,
      hosts: f.inventory.hosts.map((host) =>
        host.name === "node1" ? { ...host, firstStage: "snponly.efi" } : host,
      ),
    };
    const { policy: withOverride } = await wiredPolicy({
      inventory,
      store: f.store,
      installerDir: f.installerDir,
      callbackBaseUrl: CALLBACK,
    });
    expect(await withOverride({ mac: NODE1, stage: "dhcp", firmware: "uefi-x64" })).toMatchObject({
      action: "boot",
      firstStage: "snponly.efi",
    });
    await walkTo(f.store, "node1", "installer");
    expect(await withOverride({ mac: NODE1, stage: "dhcp" })).toEqual({
      action: "local",
      firstStage: "snponly.efi",
    });
  });

  it("refuses to start without the installer files, naming what is missing and how to build it", async () => {
    const refused = wiredPolicy({
      inventory: f.inventory,
      store: f.store,
      installerDir: `${f.directory}/nowhere`,
      callbackBaseUrl: CALLBACK,
    });
    await expect(refused).rejects.toThrow(InstallerArtifactsError);
    await expect(refused).rejects.toThrow(
      /bzImage is missing; initrd is missing; cmdline is missing\. Build it with `nix build \.#installer`/,
    );
  });

  it("keeps a host that already called back away from the installer even when the script comes later", async () => {
    await policy({ mac: NODE1, stage: "dhcp" });
    await walkTo(f.store, "node1", "installer" satisfies Phase);
    expect(await policy({ mac: NODE1, stage: "script", address: NODE1_DHCP })).toEqual({
      action: "local",
    });
  });
});
