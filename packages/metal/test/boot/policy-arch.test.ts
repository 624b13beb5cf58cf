/**
 * The installer per host architecture (ADR 0300): each host gets the kernel, initrd and cmdline
 * of the `--installer ARCH=DIR` pair for its own `arch`, and a host whose architecture has no
 * installer is never sent another architecture's kernel.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BootDecision, Mac } from "netboot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Inventory } from "../../src/inventory/types.js";
import { fixture, type Fixture } from "../helpers.js";
import { wiredPolicy } from "../helpers/pxe-boot.js";

const NODE1 = "52:54:00:77:00:01" as Mac;
const NODE2 = "52:54:00:77:00:02" as Mac;
const CALLBACK = "http://10.77.0.2:8080/callback/v1";

/** node2 becomes an aarch64 host; node1 and node3 stay x86_64. */
function withArm64Node2(inventory: Inventory): Inventory {
  return {
    ...inventory,
    hosts: inventory.hosts.map((host) =>
      host.name === "node2" ? { ...host, arch: "aarch64" as const } : host,
    ),
  };
}

function bootSpec(decision: BootDecision) {
  if (decision.action !== "boot") throw new Error(`expected boot, got ${JSON.stringify(decision)}`);
  return decision.spec;
}

describe("boot policy with an installer per architecture", () => {
  let f: Fixture;
  let arm64Dir: string;
  beforeEach(async () => {
    f = await fixture();
    arm64Dir = join(f.directory, "installer-aarch64");
    await mkdir(arm64Dir);
    await writeFile(join(arm64Dir, "bzImage"), "arm64 kernel");
    await writeFile(join(arm64Dir, "initrd"), "arm64 initrd");
    await writeFile(join(arm64Dir, "cmdline"), "console=ttyAMA0\n");
  });
  afterEach(() => f.cleanup());

  it("boots each host with its own architecture's kernel, initrd and cmdline, at DHCP and script stage", async () => {
    const wired = await wiredPolicy({
      inventory: withArm64Node2(f.inventory),
      store: f.store,
      installerDir: f.installerDir,
      installerDirs: { x86_64: f.installerDir, aarch64: arm64Dir },
      callbackBaseUrl: CALLBACK,
    });
    const dhcp = bootSpec(
      await wired.policy({ mac: NODE2, stage: "dhcp", firmware: "uefi-arm64", arch: 11 }),
    );
    expect(dhcp).toMatchObject({ kernel: join(arm64Dir, "bzImage"), cmdline: "console=ttyAMA0" });

    wired.dhcpRequest(NODE2, "10.77.0.140");
    const arm64 = bootSpec(
      await wired.policy({ mac: NODE2, stage: "script", address: "10.77.0.140" }),
    );
    expect(arm64.kernel).toBe(join(arm64Dir, "bzImage"));
    expect(arm64.initrds).toEqual([join(arm64Dir, "initrd")]);
    expect(arm64.cmdline).toMatch(
      /^console=ttyAMA0 metal\.callback=\S+ metal\.token=\S+ metal\.host=node2 /,
    );

    expect(await wired.pxeBoot(NODE1, "10.77.0.130")).toMatch(/^mt1\./);
    const x86 = bootSpec(
      await wired.policy({ mac: NODE1, stage: "script", address: "10.77.0.130" }),
    );
    expect(x86.kernel).toBe(join(f.installerDir, "bzImage"));
    expect(x86.cmdline).toMatch(/^init=\/init loglevel=4 metal\.callback=/);
  });

  it("never sends an aarch64 host the x86_64 installer when only that one is given", async () => {
    const wired = await wiredPolicy({
      inventory: withArm64Node2(f.inventory),
      store: f.store,
      installerDir: f.installerDir,
      callbackBaseUrl: CALLBACK,
    });
    for (const stage of ["dhcp", "script"] as const) {
      wired.dhcpRequest(NODE2, "10.77.0.140");
      const decision = await wired.policy({ mac: NODE2, stage, arch: 11, address: "10.77.0.140" });
      expect(decision).toEqual({
        action: "ignore",
        reason: "no installer for node2's architecture aarch64: pass --installer aarch64=DIR",
      });
    }
    expect(f.store.host("node2")?.tokens.installer).toBeUndefined();
  });
});
