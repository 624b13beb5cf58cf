import { describe, expect, it } from "vitest";
import { flakeReference } from "../../src/inventory/flake-reference.js";
import type { Inventory } from "../../src/inventory/types.js";

const inventoryWith = (flake: string) =>
  ({ cluster: { flake }, source: "/home/me/lab/cluster.toml" }) as unknown as Inventory;

describe("cluster.flake", () => {
  it("resolves a relative path against the inventory's folder and leaves other references", () => {
    expect(flakeReference(inventoryWith("."))).toBe("/home/me/lab");
    expect(flakeReference(inventoryWith("./nix"))).toBe("/home/me/lab/nix");
    expect(flakeReference(inventoryWith("../shared"))).toBe("/home/me/shared");
    expect(flakeReference(inventoryWith("/etc/cluster"))).toBe("/etc/cluster");
    expect(flakeReference(inventoryWith("github:me/lab"))).toBe("github:me/lab");
  });
});
