/** Lab machines of aarch64 hosts (ADR 0300): AAVMF with its own PXE, nothing else. */
import { describe, expect, it } from "vitest";
import { loadInventory, parseInventory } from "../../src/inventory/load.js";
import { inventoryIssues, LAB_CLUSTER_AND_NETWORK } from "../helpers/inventory-toml.js";

const LAB_ARM64 = new URL("../../../../examples/lab-arm64.toml", import.meta.url).pathname;

const ARM64_HOST = `${LAB_CLUSTER_AND_NETWORK}
[[hosts]]
name = "arm1"
mac = "52:54:00:77:00:21"
ip = "10.77.0.21/24"
arch = "aarch64"
role = "server"
init = true
disk = "/dev/vda"
[[lab.machines]]
host = "arm1"
disk_size = "80G"
`;

describe("lab machines of aarch64 hosts", () => {
  it("loads examples/lab-arm64.toml: one aarch64 host on a UEFI PXE machine", async () => {
    const inventory = await loadInventory(LAB_ARM64);
    expect(inventory.hosts.map((host) => [host.name, host.arch])).toEqual([["arm1", "aarch64"]]);
    expect(inventory.lab?.machines).toMatchObject([
      { host: "arm1", firmware: "uefi", boot: "pxe" },
    ]);
  });

  it("refuses BIOS, HTTP boot and a simulated BMC for an aarch64 host, naming the fix", () => {
    expect(inventoryIssues(`${ARM64_HOST}firmware = "bios"\n`)).toEqual([
      expect.stringMatching(
        /^lab machine "arm1": firmware "bios" is not possible for aarch64 host "arm1"; arm64 machines boot AAVMF: use firmware = "uefi" /,
      ),
    ]);
    expect(inventoryIssues(`${ARM64_HOST}firmware = "uefi"\nboot = "http"\n`)).toEqual([
      expect.stringMatching(
        /boot "http" is not possible for aarch64 host "arm1"; .*use boot = "pxe"/,
      ),
    ]);
    const withBmc = ARM64_HOST.replace(
      'disk = "/dev/vda"',
      'disk = "/dev/vda"\npower = { driver = "ipmi", address = "10.77.0.31" }',
    );
    expect(inventoryIssues(`${withBmc}firmware = "uefi"\nbmc = "ipmi"\n`)).toEqual([
      expect.stringMatching(/bmc "ipmi" is not possible for aarch64 host "arm1"; .*leave bmc out/),
    ]);
    expect(
      parseInventory(`${ARM64_HOST}firmware = "uefi"\n`, "test.toml").lab?.machines,
    ).toHaveLength(1);
  });
});
