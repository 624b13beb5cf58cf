/**
 * Throw-away virtual networks for tests: a "lan" namespace holding a bridge, and hosts (each its
 * own namespace) joined to it by veth pairs, plus tap devices for QEMU machines. Every test that
 * binds 67/68/69/4011 or sends broadcasts does it inside one of these, never on the machine's
 * own interfaces. `destroy()` removes everything; namespaces left by a killed run are swept by
 * the next one (their names carry the PID that made them).
 */
import { execa, type ResultPromise, type Options } from "execa";

const PREFIX = "mtest";
let counter = 0;

async function ip(...args: string[]): Promise<void> {
  await execa("ip", args);
}

/** Removes namespaces whose creating process is gone (a test run killed before cleanup). */
export async function sweepStaleNamespaces(prefix = PREFIX): Promise<void> {
  for (const { name, pid } of await namespacesWithPrefix(prefix))
    if (pid !== process.pid && !isAlive(pid)) await deleteNamespace(name);
}

/**
 * Removes every namespace named with `prefix`, alive or not, killing what runs inside: how a
 * long-lived lab (`metal lab`, prefix "mlab") is torn down from another process.
 */
export async function removeNamespaces(prefix: string): Promise<string[]> {
  const removed: string[] = [];
  for (const { name } of await namespacesWithPrefix(prefix)) {
    await deleteNamespace(name);
    removed.push(name);
  }
  return removed;
}

async function namespacesWithPrefix(prefix: string): Promise<{ name: string; pid: number }[]> {
  const { stdout } = await execa("ip", ["netns", "list"]);
  const pattern = new RegExp(`^${prefix}(\\d+)x`);
  return stdout.split("\n").flatMap((line) => {
    const name = line.split(" ")[0] ?? "";
    const match = pattern.exec(name);
    return match ? [{ name, pid: Number(match[1]) }] : [];
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function deleteNamespace(name: string): Promise<void> {
  // Kill whatever still runs inside (dnsmasq, QEMU, servers) so the namespace really goes away.
  const { stdout } = await execa("ip", ["netns", "pids", name], { reject: false });
  for (const pid of stdout.split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
  await execa("ip", ["netns", "delete", name], { reject: false });
}

/** A namespace joined to the network's bridge. */
export interface NetHost {
  readonly namespace: string;
  /** The host's interface name inside its namespace. */
  readonly interface: string;
  /** IPv4 address without prefix length. */
  readonly address: string;
  /** Runs a command inside the namespace and waits for it. */
  run(command: string, args?: readonly string[], options?: Options): ResultPromise;
  /** Argument vector that runs a command inside the namespace (for callers that spawn themselves). */
  argv(command: string, args?: readonly string[]): [string, string[]];
}

export interface VirtualNetworkOptions {
  /** First three octets of the /24, e.g. "10.77.0". */
  readonly subnet?: string;
  /** Announce an IPv6 prefix on the bridge? Not needed by the network itself; see addRouter. */
  readonly label?: string;
  /**
   * Letters that start every namespace name (default "mtest", swept when its process is gone).
   * Keep it short: interface names derived from it must fit in 15 characters.
   */
  readonly prefix?: string;
}

export class VirtualNetwork {
  readonly id: string;
  readonly lan: string;
  readonly bridge = "br0";
  readonly subnet: string;
  readonly #namespaces: string[] = [];
  readonly #prefix: string;
  #destroyed = false;

  private constructor(id: string, subnet: string, prefix: string) {
    this.id = id;
    this.#prefix = prefix;
    this.subnet = subnet;
    this.lan = `${id}lan`;
  }

  /** Creates the lan namespace with its bridge. Call destroy() when done (afterAll / finally). */
  static async create(options: VirtualNetworkOptions = {}): Promise<VirtualNetwork> {
    const prefix = options.prefix ?? PREFIX;
    await sweepStaleNamespaces(prefix);
    const id = `${prefix}${process.pid}x${counter++}`;
    const network = new VirtualNetwork(id, options.subnet ?? "10.77.0", prefix);
    await network.#addNamespace(network.lan);
    const inLan = (...args: string[]) => ip("-n", network.lan, ...args);
    await inLan(
      "link",
      "add",
      network.bridge,
      "type",
      "bridge",
      "stp_state",
      "0",
      "forward_delay",
      "0",
    );
    await inLan("link", "set", network.bridge, "up");
    return network;
  }

  async #addNamespace(name: string): Promise<void> {
    await ip("netns", "add", name);
    this.#namespaces.push(name);
    await ip("-n", name, "link", "set", "lo", "up");
  }

  /**
   * Adds a host namespace `name` with address SUBNET.hostOctet/24 on interface eth0, a route for
   * 255.255.255.255 (there is no default route, and Linux needs one to send broadcasts), and
   * optionally an IPv6 address (for a router that sends RAs).
   */
  async addHost(
    name: string,
    hostOctet: number,
    options: { ipv6?: string } = {},
  ): Promise<NetHost> {
    const namespace = `${this.id}${name}`;
    await this.#addNamespace(namespace);
    const outer = `v${this.id.slice(this.#prefix.length)}${name}`.slice(0, 15);
    await ip("link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", namespace);
    await ip("link", "set", outer, "netns", this.lan);
    await ip("-n", this.lan, "link", "set", outer, "master", this.bridge, "up");
    const address = `${this.subnet}.${hostOctet}`;
    await ip("-n", namespace, "addr", "add", `${address}/24`, "dev", "eth0");
    if (options.ipv6)
      await ip("-n", namespace, "-6", "addr", "add", options.ipv6, "dev", "eth0", "nodad");
    await ip("-n", namespace, "link", "set", "eth0", "up");
    await ip("-n", namespace, "route", "add", "255.255.255.255/32", "dev", "eth0");
    return hostHandle(namespace, "eth0", address);
  }

  /**
   * Joins an existing namespace (another network's host, e.g. a router) to this network's
   * bridge as interface `iface` with SUBNET.hostOctet/24, and returns that address. The
   * namespace stays its owner's to remove.
   */
  async attach(namespace: string, iface: string, hostOctet: number): Promise<string> {
    const outer = `v${this.id.slice(this.#prefix.length)}${iface}`.slice(0, 15);
    await ip("link", "add", outer, "type", "veth", "peer", "name", iface, "netns", namespace);
    await ip("link", "set", outer, "netns", this.lan);
    await ip("-n", this.lan, "link", "set", outer, "master", this.bridge, "up");
    const address = `${this.subnet}.${hostOctet}`;
    await ip("-n", namespace, "addr", "add", `${address}/24`, "dev", iface);
    await ip("-n", namespace, "link", "set", iface, "up");
    return address;
  }

  /** Adds a tap device on the bridge for a QEMU machine running in the lan namespace. */
  async addTap(name: string): Promise<string> {
    await ip("-n", this.lan, "tuntap", "add", "dev", name, "mode", "tap");
    await ip("-n", this.lan, "link", "set", name, "master", this.bridge, "up");
    return name;
  }

  /**
   * Gives the bridge SUBNET.hostOctet/24 in the lan namespace, so processes there (the
   * Wake-on-LAN gate) receive the subnet's directed broadcasts. Idempotent.
   */
  async addBridgeAddress(hostOctet: number): Promise<string> {
    const address = `${this.subnet}.${hostOctet}`;
    const { stdout } = await execa("ip", ["-n", this.lan, "-4", "-o", "addr", "show", this.bridge]);
    if (!stdout.includes(` ${address}/`))
      await ip("-n", this.lan, "addr", "add", `${address}/24`, "dev", this.bridge);
    return address;
  }

  /** Runs a command in the lan namespace (QEMU machines live there, next to their taps). */
  lanArgv(command: string, args: readonly string[] = []): [string, string[]] {
    return ["ip", ["netns", "exec", this.lan, command, ...args]];
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const namespace of [...this.#namespaces].reverse()) await deleteNamespace(namespace);
  }
}

function hostHandle(namespace: string, iface: string, address: string): NetHost {
  const argv = (command: string, args: readonly string[] = []): [string, string[]] => [
    "ip",
    ["netns", "exec", namespace, command, ...args],
  ];
  return {
    namespace,
    interface: iface,
    address,
    argv,
    run(command, args = [], options = {}) {
      const [file, fileArgs] = argv(command, args);
      return execa(file, fileArgs, options);
    },
  };
}
