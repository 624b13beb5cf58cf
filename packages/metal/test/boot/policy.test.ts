import type { BootPolicy, Mac } from "netboot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InstallerArtifactsError } from "../../src/boot/errors.js";
import { createBootPolicy } from "../../src/boot/policy.js";
import { checkToken } from "../../src/callback/tokens.js";
import { PHASES, type Phase } from "../../src/state/types.js";
import { INSTALLER_PHASES } from "../../src/state/lifecycle.js";
import { fixture, walkTo, type Fixture } from "../helpers.js";

const NODE1 = "52:54:00:77:00:01" as Mac;
const UNKNOWN = "52:54:00:99:00:01" as Mac;
const CALLBACK = "http://10.77.0.2:8080/callback/v1";

describe("boot policy", () => {
  let f: Fixture;
  let policy: BootPolicy;
  beforeEach(async () => {
    f = await fixture();
    policy = await createBootPolicy({
      inventory: f.inventory,
      store: f.store,
      installerDir: f.installerDir,
      callbackBaseUrl: CALLBACK,
      clock: () => f.now,
    });
  });
  afterEach(() => f.cleanup());

  const finished = PHASES.filter((phase) => !INSTALLER_PHASES.includes(phase));
  for (const phase of finished) {
    it(`never gives the installer to a host in phase ${phase}, at DHCP or script stage`, async () => {
      await walkTo(f.store, "node1", phase);
      for (const stage of ["dhcp", "script"] as const) {
        expect(await policy({ mac: NODE1, stage, firmware: "uefi-x64", arch: 7 })).toEqual({
          action: "local",
        });
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

  it("mints a token at script stage and puts callback, token, host and BOOTIF on the cmdline", async () => {
    await policy({ mac: NODE1, stage: "dhcp", firmware: "bios", arch: 0 });
    const decision = await policy({ mac: NODE1, stage: "script" });
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

  it("replaces the token when the script is fetched again: only the newest works", async () => {
    const tokenOf = async () => {
      const decision = await policy({ mac: NODE1, stage: "script" });
      return decision.action === "boot"
        ? /metal\.token=(\S+)/.exec(decision.spec.cmdline ?? "")?.[1]
        : undefined;
    };
    const first = await tokenOf();
    const second = await tokenOf();
    expect(first).not.toBe(second);
    const hosts = () => Object.values(f.store.snapshot().hosts);
    expect(checkToken(hosts(), first, "installer", f.now)).toMatchObject({ ok: false });
    expect(checkToken(hosts(), second, "installer", f.now)).toMatchObject({ ok: true });
  });

  it("ignores unknown MACs and records them for metal status", async () => {
    expect(await policy({ mac: UNKNOWN, stage: "dhcp", arch: 7 })).toEqual({
      action: "ignore",
      reason: "MAC not in the inventory (listed by `metal status`)",
    });
    await policy({ mac: UNKNOWN, stage: "dhcp", arch: 7 });
    expect(f.store.snapshot().unknownMachines[UNKNOWN]).toMatchObject({ count: 2, arch: 7 });
  });

  it("passes a host's first_stage override with every decision", async () => {
    const inventory = {
      ...f.inventory,
      hosts: f.inventory.hosts.map((host) =>
        host.name === "node1" ? { ...host, firstStage: "snponly.efi" } : host,
      ),
    };
    const withOverride = await createBootPolicy({
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
    await expect(
      createBootPolicy({
        inventory: f.inventory,
        store: f.store,
        installerDir: `${f.directory}/nowhere`,
        callbackBaseUrl: CALLBACK,
      }),
    ).rejects.toThrow(InstallerArtifactsError);
    await expect(
      createBootPolicy({
        inventory: f.inventory,
        store: f.store,
        installerDir: `${f.directory}/nowhere`,
        callbackBaseUrl: CALLBACK,
      }),
    ).rejects.toThrow(
      /bzImage is missing; initrd is missing; cmdline is missing\. Build it with `nix build \.#installer`/,
    );
  });

  it("keeps a host that already called back away from the installer even when the script comes later", async () => {
    await policy({ mac: NODE1, stage: "dhcp" });
    await walkTo(f.store, "node1", "installer" satisfies Phase);
    expect(await policy({ mac: NODE1, stage: "script" })).toEqual({ action: "local" });
  });
});
