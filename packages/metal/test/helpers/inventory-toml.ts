/**
 * Inventories as TOML text for tests: the smallest one the parser accepts, the issues it finds
 * in a broken one, and a whole lab network for tests that run the real CLI against a fake install.
 */
import { InventoryError } from "../../src/inventory/errors.js";
import { parseInventory } from "../../src/inventory/load.js";

/** The lab's network (examples/lab.toml): 10.77.0.0/24 behind the home router at .1, the VIP at .10. */
const LAB_NETWORK = `[network]
interface = "eth0"
subnet = "10.77.0.0/24"
gateway = "10.77.0.1"
dns = ["10.77.0.1"]
vip = "10.77.0.10"`;

/** examples/lab.toml's cluster and network: what every lab inventory of a test starts with. */
export const LAB_CLUSTER_AND_NETWORK = `
[cluster]
name = "lab"
domain = "lab.home.arpa"
${LAB_NETWORK}`;

/** One init server on the lab network (node1 of examples/lab.toml), every optional field left out. */
export const ONE_SERVER_INVENTORY = `${LAB_CLUSTER_AND_NETWORK}
[[hosts]]
name = "node1"
mac = "52:54:00:77:00:01"
ip = "10.77.0.11/24"
role = "server"
init = true
disk = "/dev/vda"
`;

/** The message of every issue the parser finds in `text`; fails the test if it accepts `text`. */
export function inventoryIssues(text: string): string[] {
  try {
    parseInventory(text, "test.toml");
  } catch (error) {
    if (error instanceof InventoryError) return error.issues.map((issue) => issue.message);
    throw error;
  }
  throw new Error("expected the inventory to be rejected");
}

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

${LAB_NETWORK}

[install]
root_size = "1G"
parallel = ${inventory.parallel}
retries = ${inventory.retries}
command = ${JSON.stringify(inventory.command)}
${hosts.join("\n")}
`;
}
