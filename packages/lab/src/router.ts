/**
 * The "home router" of the lab: dnsmasq in its own namespace on the lab bridge, handing out
 * addresses (and an IPv6 router advertisement) but no boot information, like a consumer
 * router. The RA matters: without one, the 2019 iPXE build waits ~13 s for SLAAC (LAB-NOTES).
 */
import { execa, type ResultPromise } from "execa";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DNSMASQ, waitForDnsmasq } from "./dnsmasq.js";
import type { NetHost, VirtualNetwork } from "./netns.js";

export interface RouterOptions {
  readonly network: VirtualNetwork;
  /** Directory for the log and the lease file. */
  readonly workDir: string;
  /** The router's last octet (default 1). */
  readonly hostOctet?: number;
  /** First and last octet of the DHCP pool (default 100–199). */
  readonly pool?: readonly [number, number];
  /** Fixed addresses, as a router's "reserved IP" table. */
  readonly reservations?: readonly { readonly mac: string; readonly address: string }[];
  readonly leaseTime?: string;
  /** ULA prefix announced by RA (default fd77::). */
  readonly ipv6Prefix?: string;
  /**
   * Subnets behind DHCP relays (relay.ts): a pool (same octets as `pool`) for requests whose
   * giaddr is in `subnet`, with `gateway` as their router option.
   */
  readonly relayedSubnets?: readonly { readonly subnet: string; readonly gateway: string }[];
}

export interface Lease {
  readonly mac: string;
  readonly address: string;
}

const DEFAULT_ROUTER_OCTET = 1;
const DEFAULT_POOL: readonly [number, number] = [100, 199];
const DEFAULT_LEASE_TIME = "1h";
const DEFAULT_IPV6_PREFIX = "fd77::";
const IPV6_PREFIX_LENGTH = 64;
/** dnsmasq logs this once its DHCP socket is open. */
const READY_LINE = /DHCP, IP range/;

export class HomeRouter {
  readonly host: NetHost;
  readonly logFile: string;
  readonly leaseFile: string;
  readonly #process: ResultPromise;

  private constructor(host: NetHost, logFile: string, leaseFile: string, child: ResultPromise) {
    this.host = host;
    this.logFile = logFile;
    this.leaseFile = leaseFile;
    this.#process = child;
  }

  get address(): string {
    return this.host.address;
  }

  static async start(options: RouterOptions): Promise<HomeRouter> {
    const { network } = options;
    const prefix = options.ipv6Prefix ?? DEFAULT_IPV6_PREFIX;
    const host = await network.addHost("router", options.hostOctet ?? DEFAULT_ROUTER_OCTET, {
      ipv6: `${prefix}1/${IPV6_PREFIX_LENGTH}`,
    });
    await mkdir(options.workDir, { recursive: true });
    const logFile = join(options.workDir, "dnsmasq.log");
    const leaseFile = join(options.workDir, "dnsmasq.leases");
    await writeFile(logFile, "");
    await writeFile(leaseFile, "");
    const [first, last] = options.pool ?? DEFAULT_POOL;
    const args = [
      "--conf-file=/dev/null",
      "--no-resolv",
      "--no-hosts",
      // Addresses only: no DNS (port 0) and no PXE; the lab's own server does boot.
      "--port=0",
      "--bind-interfaces",
      `--interface=${host.interface}`,
      `--dhcp-range=${network.subnet}.${first},${network.subnet}.${last},255.255.255.0,${options.leaseTime ?? DEFAULT_LEASE_TIME}`,
      "--enable-ra",
      `--dhcp-range=${prefix},ra-only,${IPV6_PREFIX_LENGTH}`,
      "--dhcp-authoritative",
      "--no-ping",
      "--keep-in-foreground",
      "--log-dhcp",
      `--log-facility=${logFile}`,
      `--dhcp-leasefile=${leaseFile}`,
      "--pid-file=",
      "--user=root",
      ...(options.reservations ?? []).map(({ mac, address }) => `--dhcp-host=${mac},${address}`),
      ...(options.relayedSubnets ?? []).flatMap(({ subnet, gateway }, index) => [
        `--dhcp-range=set:relayed${index},${subnet}.${first},${subnet}.${last},255.255.255.0,${options.leaseTime ?? DEFAULT_LEASE_TIME}`,
        `--dhcp-option=tag:relayed${index},option:router,${gateway}`,
      ]),
    ];
    const [file, fileArgs] = host.argv(DNSMASQ, args);
    const child = execa(file, fileArgs, { reject: false, stdin: "ignore" });
    const router = new HomeRouter(host, logFile, leaseFile, child);
    await router.#waitUntilReady();
    return router;
  }

  async log(): Promise<string> {
    return readFile(this.logFile, "utf8");
  }

  /** Current leases from dnsmasq's lease file ("expiry mac address hostname client-id"). */
  async leases(): Promise<Lease[]> {
    return parseLeaseFile(await readFile(this.leaseFile, "utf8"));
  }

  async stop(): Promise<void> {
    this.#process.kill("SIGTERM");
    await this.#process;
  }

  #waitUntilReady(): Promise<void> {
    return waitForDnsmasq(this.#process, this.logFile, READY_LINE, "serving DHCP");
  }
}

export function parseLeaseFile(content: string): Lease[] {
  return content
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 3 && /^\d+$/.test(fields[0]!))
    .map((fields) => ({ mac: fields[1]!, address: fields[2]! }));
}
