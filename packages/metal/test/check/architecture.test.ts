import { describe, expect, it } from "vitest";
import { architectureFindings } from "../../src/check/checks.js";
import { parseInstallerDirs } from "../../src/boot/installer-dirs.js";
import { loadInventory } from "../../src/inventory/load.js";
import type { Inventory } from "../../src/inventory/types.js";
import { LAB_INVENTORY } from "../helpers.js";

/** The lab inventory with its first host turned into an aarch64 machine. */
async function withArm64Host(): Promise<Inventory> {
  const inventory = await loadInventory(LAB_INVENTORY);
  const [first, ...rest] = inventory.hosts;
  return { ...inventory, hosts: [{ ...first!, arch: "aarch64" }, ...rest] };
}

describe("metal check: an installer for every host's architecture", () => {
  it("refuses an aarch64 host when only the x86_64 installer is given, naming host, arch and fix", async () => {
    const inventory = await withArm64Host();
    const name = inventory.hosts[0]!.name;
    expect(architectureFindings(inventory, { x86_64: "/r" })).toEqual([
      {
        ok: false,
        message: `host ${name}: arch = "aarch64" but no aarch64 installer was given`,
        fix:
          "build it with `nix build .#packages.aarch64-linux.installer -o result-aarch64` " +
          "and pass --installer x86_64=…,aarch64=result-aarch64",
      },
    ]);
  });

  it("passes when every architecture in the inventory has an installer", async () => {
    const inventory = await withArm64Host();
    expect(architectureFindings(inventory, { x86_64: "/a", aarch64: "/b" })).toEqual([]);
    expect(architectureFindings(await loadInventory(LAB_INVENTORY), { x86_64: "/a" })).toEqual([]);
  });
});

describe("--installer: one directory, or one per architecture", () => {
  it("reads a bare directory as the x86_64 installer", () => {
    expect(parseInstallerDirs("/srv/result")).toEqual({ x86_64: "/srv/result" });
  });

  it("reads ARCH=DIR pairs", () => {
    expect(parseInstallerDirs("x86_64=/a,aarch64=/b=c")).toEqual({
      x86_64: "/a",
      aarch64: "/b=c",
    });
  });

  it.each(["riscv64=/a", "aarch64=", "x86_64=/a,x86_64=/b", "=/a"])("refuses %s", (value) => {
    expect(() => parseInstallerDirs(value)).toThrow(/--installer/);
  });
});
