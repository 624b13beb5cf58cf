import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { loadInventory, parseInventory } from "../../src/inventory/load.js";
import { inventoryIssues, ONE_SERVER_INVENTORY } from "../helpers/inventory-toml.js";

const LAB = new URL("../../../../examples/lab.toml", import.meta.url).pathname;
const HOMELAB = new URL("../../../../examples/homelab.toml", import.meta.url).pathname;

function withHosts(hosts: string, network = ""): string {
  const base = ONE_SERVER_INVENTORY.slice(0, ONE_SERVER_INVENTORY.indexOf("[[hosts]]"));
  return (network ? base.replace(/\[network\][\s\S]*$/, network) : base) + hosts;
}

describe("loadInventory", () => {
  it("loads the lab example with defaults filled in", async () => {
    const inventory = await loadInventory(LAB);
    expect(inventory.source).toBe(LAB);
    expect(inventory.cluster).toEqual({
      name: "lab",
      domain: "lab.home.arpa",
      flake: ".",
      gitopsRepo: undefined,
    });
    expect(inventory.k3s).toEqual({ disable: ["traefik", "servicelb"], extraFlags: [] });
    expect(inventory.install).toEqual({
      rootSize: "1G",
      parallel: 3,
      retries: 2,
      command: undefined,
    });
    expect(inventory.hosts.map((h) => [h.name, h.role, h.init, h.address, h.prefixLength])).toEqual(
      [
        ["node1", "server", true, "10.77.0.11", 24],
        ["node2", "server", false, "10.77.0.12", 24],
        ["node3", "agent", false, "10.77.0.13", 24],
      ],
    );
    expect(inventory.lab?.machines).toEqual([
      { host: "node1", firmware: "uefi", boot: "pxe", diskSize: "4G", memory: "512M" },
      { host: "node2", firmware: "bios", boot: "pxe", diskSize: "4G", memory: "512M" },
      { host: "node3", firmware: "uefi", boot: "http", diskSize: "4G", memory: "512M" },
    ]);
  });

  it("loads the real-hardware example with per-host overrides", async () => {
    const inventory = await loadInventory(HOMELAB);
    const node3 = inventory.hosts.find((h) => h.name === "node3");
    const worker1 = inventory.hosts.find((h) => h.name === "worker1");
    expect(node3?.firstStage).toBe("snponly.efi");
    expect(node3?.rootSize).toBe("64G");
    expect(worker1).toMatchObject({ rootSize: "100G", interface: "eno1", role: "agent" });
    expect(inventory.lab).toBeUndefined();
  });

  it("canonicalises MACs to lower-case colon form", () => {
    expect(
      parseInventory(ONE_SERVER_INVENTORY.replace("52:54:00:77:00:01", "52:54:00:77:00:0A"), "t")
        .hosts[0]?.mac,
    ).toBe("52:54:00:77:00:0a");
    expect(
      parseInventory(ONE_SERVER_INVENTORY.replace("52:54:00:77:00:01", "52-54-00-77-00-01"), "t")
        .hosts[0]?.mac,
    ).toBe("52:54:00:77:00:01");
  });

  it("names a missing file and how to get one", async () => {
    await expect(loadInventory("/nonexistent/cluster.toml")).rejects.toThrow(
      /cluster.toml: 1 problem:\n {2}- inventory: file not found \(create it from examples\/homelab.toml/,
    );
  });

  it("reports TOML syntax errors with line and column", () => {
    expect(inventoryIssues("[cluster]\nname = \n")[0]).toMatch(
      /^inventory: not valid TOML at line 2, column \d+/,
    );
  });
});

describe("inventory field errors", () => {
  it("names host, field, value, rule and a good example", () => {
    const text = `${ONE_SERVER_INVENTORY}[[hosts]]
name = "node2"
mac = "aa:bb"
ip = "10.77.0.12/24"
role = "agent"
disk = "/dev/vda"
`;
    expect(inventoryIssues(text)).toEqual([
      'host "node2": mac "aa:bb" is not a valid MAC address (expected 6 hex octets, e.g. 52:54:00:12:34:56)',
    ]);
  });

  it("collects every problem of the file, not just the first", () => {
    const text = withHosts(
      `
[[hosts]]
name = "Node_1"
mac = "52:54:00:77:00:01"
ip = "10.77.0.11"
role = "admin"
disk = "sda"
roel = "server"
first_stage = "efi/ipxe.efi"
root_size = "64GB"
`,
      `[network]
interface = "eth0"
subnet = "10.77.0.5/24"
gateway = "10.77.1.1"
dns = []
vip = "300.1.1.1"
`,
    );
    expect(inventoryIssues(text)).toEqual([
      'network: subnet "10.77.0.5/24" has host bits set: it is not a network address (expected an IPv4 network in CIDR notation with the host bits zero, e.g. 192.168.1.0/24)',
      'network: dns [] is empty (expected one or more IPv4 addresses, e.g. ["192.168.1.1"])',
      'network: vip "300.1.1.1" is not an IPv4 address (expected an IPv4 address inside network.subnet that no host uses, e.g. 192.168.1.40)',
      'host "Node_1": name "Node_1" is not a valid DNS label (expected a DNS label: lower-case letters, digits and inner hyphens, at most 63 characters, e.g. node1)',
      'host "Node_1": ip "10.77.0.11" is not an IPv4 address with a prefix length (expected the host\'s static IPv4 address with the subnet\'s prefix length, e.g. 192.168.1.11/24)',
      'host "Node_1": role "admin" is not "server" or "agent" (expected "server" (k3s control plane) or "agent" (worker), e.g. server)',
      'host "Node_1": disk "sda" is not an absolute path under /dev (expected an absolute path under /dev, best a stable /dev/disk/by-id/ link, e.g. /dev/disk/by-id/nvme-Samsung_SSD_980_500GB_S64DNF0R123456)',
      'host "Node_1": first_stage "efi/ipxe.efi" is not a plain file name (expected a plain file name in the first-stage directory (no `/`), e.g. snponly.efi)',
      'host "Node_1": root_size "64GB" is not a size in disko notation (expected a size in disko notation: a whole number and a unit K, M, G or T (binary units), e.g. 100G)',
      'host "Node_1": unknown field "roel" (known fields: name, mac, ip, role, init, disk, arch, first_stage, root_size, interface, power)',
      'inventory: no host has role "server" (k3s needs at least one; set role = "server" on one host)',
      "inventory: no server has init = true (exactly one server initialises the cluster; add init = true to one)",
    ]);
  });

  it("names missing fields and sections with an example", () => {
    const issues = inventoryIssues(`[cluster]\nname = "lab"\n[[hosts]]\nname = "node1"\n`);
    expect(issues).toContain(
      "cluster: domain is missing (expected a DNS name made of DNS labels separated by dots, e.g. home.arpa)",
    );
    expect(issues).toContain("inventory: [network] section is missing");
    expect(issues).toContain(
      'host "node1": mac is missing (expected 6 hex octets, e.g. 52:54:00:12:34:56)',
    );
  });

  it("names a value of the wrong type", () => {
    expect(inventoryIssues(ONE_SERVER_INVENTORY.replace("init = true", 'init = "yes"'))).toContain(
      'host "node1": init "yes" is a string, not a boolean (expected true on exactly one server: the one that initialises the cluster, e.g. true)',
    );
  });
});

describe("inventory cross-field checks", () => {
  const host = (name: string, mac: string, ip: string, extra = 'role = "server"') =>
    `[[hosts]]\nname = "${name}"\nmac = "${mac}"\nip = "${ip}"\ndisk = "/dev/vda"\n${extra}\n`;

  it("catches duplicate names, MACs and IPs", () => {
    const text = withHosts(
      host("node1", "52:54:00:77:00:01", "10.77.0.11/24", 'role = "server"\ninit = true') +
        host("node1", "52-54-00-77-00-01", "10.77.0.11/24", 'role = "agent"'),
    );
    expect(inventoryIssues(text)).toEqual([
      'host "node1": name "node1" is already used by host "node1" (expected a DNS label: lower-case letters, digits and inner hyphens, at most 63 characters, e.g. node1)',
      'host "node1": mac "52-54-00-77-00-01" is already used by host "node1" (expected 6 hex octets, e.g. 52:54:00:12:34:56)',
      'host "node1": ip "10.77.0.11/24" is already used by host "node1" (expected the host\'s static IPv4 address with the subnet\'s prefix length, e.g. 192.168.1.11/24)',
    ]);
  });

  it("catches addresses outside the subnet, prefix mismatches and collisions with VIP and gateway", () => {
    const text = withHosts(
      host("node1", "52:54:00:77:00:01", "10.78.0.11/24", 'role = "server"\ninit = true') +
        host("node2", "52:54:00:77:00:02", "10.77.0.12/16") +
        host("node3", "52:54:00:77:00:03", "10.77.0.10/24", 'role = "agent"') +
        host("node4", "52:54:00:77:00:04", "10.77.0.1/24", 'role = "agent"') +
        host("node5", "52:54:00:77:00:05", "10.77.0.255/24", 'role = "agent"'),
      `[network]\ninterface = "eth0"\nsubnet = "10.77.0.0/24"\ngateway = "10.77.5.1"\ndns = ["10.77.0.1"]\nvip = "10.77.0.10"\n`,
    ).replace('gateway = "10.77.5.1"', 'gateway = "10.77.0.1"');
    const issues = inventoryIssues(text).map((message) => message.replace(/ \(expected.*\)$/, ""));
    expect(issues).toEqual([
      'host "node1": ip "10.78.0.11/24" is outside network.subnet 10.77.0.0/24',
      'host "node2": ip "10.77.0.12/16" has prefix length /16 but network.subnet 10.77.0.0/24 has /24',
      'host "node3": ip "10.77.0.10/24" is network.vip, the control-plane address',
      'host "node4": ip "10.77.0.1/24" is network.gateway, the router\'s address',
      'host "node5": ip "10.77.0.255/24" is the subnet\'s network or broadcast address',
    ]);
  });

  it("catches a gateway or VIP outside the subnet", () => {
    const text = ONE_SERVER_INVENTORY.replace(
      'gateway = "10.77.0.1"',
      'gateway = "10.78.0.1"',
    ).replace('vip = "10.77.0.10"', 'vip = "192.168.1.10"');
    expect(inventoryIssues(text).map((message) => message.replace(/ \(expected.*\)$/, ""))).toEqual(
      [
        'network: gateway "10.78.0.1" is outside network.subnet 10.77.0.0/24',
        'network: vip "192.168.1.10" is outside network.subnet 10.77.0.0/24',
      ],
    );
  });

  it("requires exactly one init server, and init only on a server", () => {
    const two = withHosts(
      host("node1", "52:54:00:77:00:01", "10.77.0.11/24", 'role = "server"\ninit = true') +
        host("node2", "52:54:00:77:00:02", "10.77.0.12/24", 'role = "agent"\ninit = true'),
    );
    expect(inventoryIssues(two)).toEqual([
      'host "node2": init true is only allowed on a server (role is "agent") (expected true on exactly one server: the one that initialises the cluster, e.g. true)',
      'inventory: 2 hosts have init = true (host "node1", host "node2"); exactly one server initialises the cluster: keep it on one',
    ]);
    expect(inventoryIssues(withHosts(""))).toEqual([
      "inventory: no [[hosts]] (add at least one server, see examples/homelab.toml)",
    ]);
  });

  it("checks that lab machines name hosts and that their disks fit the partitions", () => {
    const text = `${ONE_SERVER_INVENTORY}
[[lab.machines]]
host = "node9"
firmware = "uefi"
[[lab.machines]]
host = "node1"
firmware = "bios"
disk_size = "2G"
[install]
root_size = "1G"
`;
    expect(inventoryIssues(text)).toEqual([
      'lab machine "node9": host "node9" is not a host in [[hosts]] (expected the name of a host in [[hosts]], e.g. node1)',
      'lab machine "node1": disk_size "2G" is smaller than the partitions need (3 GiB: ESP, root 1G, minimum Ceph partition) (expected a QEMU disk size: a whole number and a unit M, G or T, large enough for the partitions, e.g. 4G)',
    ]);
  });
});

describe("lab machines that UEFI HTTP-boot", () => {
  it('accept boot = "http" on UEFI and refuse it on BIOS, naming the fix', () => {
    const text = (firmware: string) => `${ONE_SERVER_INVENTORY}
[[lab.machines]]
host = "node1"
firmware = "${firmware}"
boot = "http"
disk_size = "80G"
`;
    expect(parseInventory(text("uefi"), "test.toml").lab?.machines[0]?.boot).toBe("http");
    expect(inventoryIssues(text("bios"))).toEqual([
      'lab machine "node1": boot "http" needs firmware = "uefi": SeaBIOS has no HTTP boot (use boot = "pxe") (expected "pxe", or "http" for UEFI HTTP boot (firmware = "uefi" only: OVMF with its PXE off), e.g. http)',
    ]);
  });
});

describe("docs/inventory.md", () => {
  it("documents every field the schema knows", async () => {
    const { FIELDS } = await import("../../src/inventory/fields.js");
    const { inventorySchema } = await import("../../src/inventory/schema.js");
    const docs = await readFile(new URL("../../../../docs/inventory.md", import.meta.url), "utf8");
    const schemaPaths = fieldPaths(inventorySchema);
    expect(schemaPaths.sort()).toEqual(Object.keys(FIELDS).sort());
    const undocumented = schemaPaths.filter((path) => !docs.includes(`\`${path}\``));
    expect(undocumented).toEqual([]);
  });
});

/** Dotted paths of every leaf field of a zod object schema; arrays of objects add `[]`. */
function fieldPaths(schema: unknown, prefix = ""): string[] {
  const def = (
    schema as {
      def: {
        type: string;
        innerType?: unknown;
        element?: unknown;
        shape?: Record<string, unknown>;
        in?: unknown;
      };
    }
  ).def;
  if (def.innerType) return fieldPaths(def.innerType, prefix);
  if (def.type === "pipe") return fieldPaths(def.in, prefix);
  if (def.type === "array" && (def.element as { def: { type: string } }).def.type === "object") {
    return fieldPaths(def.element, `${prefix}[]`);
  }
  if (def.type === "object" && def.shape) {
    return Object.entries(def.shape).flatMap(([key, value]) =>
      fieldPaths(value, prefix ? `${prefix}.${key}` : key),
    );
  }
  return [prefix];
}

describe("unknown keys", () => {
  it("names the unknown key and the known ones, at every level", () => {
    const text = `${ONE_SERVER_INVENTORY}\n[lab]\nmachnes = []\n[extra]\nx = 1\n`.replace(
      "[network]",
      '[network]\nsubnet_mask = "255.255.255.0"',
    );
    expect(inventoryIssues(text)).toEqual([
      'network: unknown field "subnet_mask" (known fields: interface, subnet, gateway, dns, vip)',
      "lab: machines is missing",
      'lab: unknown field "machnes" (known fields: machines)',
      'inventory: unknown field "extra" (known fields: cluster, network, k3s, install, hosts, lab)',
    ]);
  });
});
