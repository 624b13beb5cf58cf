/** A lab-network inventory as TOML text, for tests that run the real CLI against a fake install. */
export interface TestHost {
  readonly name: string;
  readonly mac: string;
  readonly ip: string;
}

export interface TestInventory {
  readonly cluster: string;
  readonly hosts: readonly TestHost[];
  /** How many of the hosts (from the first) are servers; the first is the init server. */
  readonly servers: number;
  readonly parallel: number;
  readonly retries: number;
  /** The install command template, one argv element per entry. */
  readonly command: readonly string[];
}

export function inventoryToml(inventory: TestInventory): string {
  const hosts = inventory.hosts.map(
    (host, index) => `
[[hosts]]
name = "${host.name}"
mac = "${host.mac}"
ip = "${host.ip}/24"
role = "${index < inventory.servers ? "server" : "agent"}"
${index === 0 ? "init = true" : ""}
disk = "/dev/vda"`,
  );
  return `
[cluster]
name = "${inventory.cluster}"
domain = "${inventory.cluster}.home.arpa"
flake = "."

[network]
interface = "eth0"
subnet = "10.77.0.0/24"
gateway = "10.77.0.1"
dns = ["10.77.0.1"]
vip = "10.77.0.10"

[install]
root_size = "1G"
parallel = ${inventory.parallel}
retries = ${inventory.retries}
command = ${JSON.stringify(inventory.command)}
${hosts.join("\n")}
`;
}
