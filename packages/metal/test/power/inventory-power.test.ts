import { describe, expect, it } from "vitest";
import { parseInventory } from "../../src/inventory/load.js";
import { inventoryIssues, ONE_SERVER_INVENTORY } from "../helpers/inventory-toml.js";

describe("inventory: hosts[].power", () => {
  it("is Wake-on-LAN when absent, and an IPMI BMC at its address when given", () => {
    expect(parseInventory(ONE_SERVER_INVENTORY, "t.toml").hosts[0]!.power).toEqual({
      driver: "wol",
    });
    const ipmi = parseInventory(
      `${ONE_SERVER_INVENTORY}power = { driver = "ipmi", address = "10.77.0.111" }\n`,
      "t.toml",
    );
    expect(ipmi.hosts[0]!.power).toEqual({ driver: "ipmi", address: "10.77.0.111" });
    const named = parseInventory(
      `${ONE_SERVER_INVENTORY}power = { driver = "ipmi", address = "node1-bmc.home.arpa" }\n`,
      "t.toml",
    );
    expect(named.hosts[0]!.power).toEqual({ driver: "ipmi", address: "node1-bmc.home.arpa" });
  });

  it("names the host, the field, the value and a good example for every wrong power table, all at once", () => {
    const text = `${ONE_SERVER_INVENTORY}power = { driver = "redfish", adress = "x" }\n[[hosts]]
name = "node2"
mac = "52:54:00:77:00:02"
ip = "10.77.0.12/24"
role = "agent"
disk = "/dev/vda"
power = { driver = "ipmi" }
[[hosts]]
name = "node3"
mac = "52:54:00:77:00:03"
ip = "10.77.0.13/24"
role = "agent"
disk = "/dev/vda"
power = { driver = "wol", address = "10.77.0.113" }
[[hosts]]
name = "node4"
mac = "52:54:00:77:00:04"
ip = "10.77.0.14/24"
role = "agent"
disk = "/dev/vda"
power = { driver = "ipmi", address = "-bad host-" }
`;
    expect(inventoryIssues(text)).toEqual([
      'host "node1": power.driver "redfish" is not "wol" or "ipmi" (expected "wol" (Wake-on-LAN, power on only) or "ipmi" (the host\'s BMC, with ipmitool), e.g. ipmi)',
      'host "node1": unknown field "adress" (known fields: driver, address)',
      'host "node4": power.address "-bad host-" is not an IPv4 address or DNS name (expected the BMC\'s IPv4 address or DNS name; required with driver "ipmi", not allowed with "wol", e.g. 192.168.1.111)',
      'host "node2": power.address is missing: driver "ipmi" needs the BMC\'s address (expected the BMC\'s IPv4 address or DNS name; required with driver "ipmi", not allowed with "wol", e.g. 192.168.1.111)',
      'host "node3": power.address "10.77.0.113" has no use with driver "wol" (Wake-on-LAN is a broadcast on network.interface) (expected the BMC\'s IPv4 address or DNS name; required with driver "ipmi", not allowed with "wol", e.g. 192.168.1.111)',
    ]);
  });

  it('refuses a lab machine with bmc = "ipmi" whose host has no IPMI power table', () => {
    const text = `${ONE_SERVER_INVENTORY}[[lab.machines]]\nhost = "node1"\nfirmware = "bios"\ndisk_size = "80G"\nbmc = "ipmi"\n`;
    expect(inventoryIssues(text)).toEqual([
      expect.stringMatching(
        /^lab machine "node1": bmc "ipmi" needs host "node1" to say power = \{ driver = "ipmi", address = "…" \}/,
      ),
    ]);
    const ok = parseInventory(
      `${ONE_SERVER_INVENTORY}power = { driver = "ipmi", address = "10.77.0.111" }\n[[lab.machines]]\nhost = "node1"\nfirmware = "bios"\ndisk_size = "80G"\nbmc = "ipmi"\n`,
      "t.toml",
    );
    expect(ok.lab?.machines[0]?.bmc).toBe("ipmi");
  });
});
