/**
 * A routed second subnet for the lab: a router namespace between two VirtualNetworks (the
 * "upstream" one with the DHCP servers, the "downstream" one with the machines), forwarding IPv4
 * between them and running dnsmasq's DHCP relay (`--dhcp-relay`, RFC 1542 / RFC 2131 §4.1) so
 * machines on the downstream subnet reach DHCP servers they share no broadcast domain with:
 * the relay puts its downstream address in giaddr and forwards each request to every server;
 * servers answer to that address, port 67, and the relay delivers on the downstream link.
 */
import { execa, type ResultPromise } from "execa";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DNSMASQ, waitForDnsmasq } from "./dnsmasq.js";
import type { NetHost, VirtualNetwork } from "./netns.js";

export interface DhcpRelayOptions {
  /** The network the DHCP servers (home router, PXE server) are on. */
  readonly upstream: VirtualNetwork;
  /** The machines' network. */
  readonly downstream: VirtualNetwork;
  /** Addresses on `upstream` the relay forwards every request to. */
  readonly servers: readonly string[];
  /** Directory for the relay's log. */
  readonly workDir: string;
  /** The router's last octet upstream (default 253) and downstream (default 1: the gateway). */
  readonly upstreamOctet?: number;
  readonly downstreamOctet?: number;
}

/** 254 is the Wake-on-LAN gate's bridge address (wol-gate.ts); the relay takes the next one down. */
const DEFAULT_UPSTREAM_OCTET = 253;
const DEFAULT_DOWNSTREAM_OCTET = 1;
const DOWNSTREAM_INTERFACE = "eth1";
/** dnsmasq logs one "DHCP relay from LOCAL to SERVER" line per relay at start (dnsmasq.c). */
const READY_LINE = /DHCP relay from/;

export class DhcpRelay {
  readonly host: NetHost;
  /** The router's address downstream: the machines' gateway and the relay's giaddr. */
  readonly gateway: string;
  /** The router's address upstream: where routes to the downstream subnet point. */
  readonly upstreamAddress: string;
  readonly downstreamSubnet: string;
  readonly logFile: string;
  readonly #process: ResultPromise;

  private constructor(
    host: NetHost,
    gateway: string,
    downstreamSubnet: string,
    logFile: string,
    child: ResultPromise,
  ) {
    this.host = host;
    this.gateway = gateway;
    this.upstreamAddress = host.address;
    this.downstreamSubnet = downstreamSubnet;
    this.logFile = logFile;
    this.#process = child;
  }

  static async start(options: DhcpRelayOptions): Promise<DhcpRelay> {
    const { upstream, downstream } = options;
    const host = await upstream.addHost("relay", options.upstreamOctet ?? DEFAULT_UPSTREAM_OCTET);
    const gateway = await downstream.attach(
      host.namespace,
      DOWNSTREAM_INTERFACE,
      options.downstreamOctet ?? DEFAULT_DOWNSTREAM_OCTET,
    );
    await host.run("sysctl", ["-q", "-w", "net.ipv4.ip_forward=1"]);
    await mkdir(options.workDir, { recursive: true });
    const logFile = join(options.workDir, "relay.log");
    await writeFile(logFile, "");
    const args = [
      "--conf-file=/dev/null",
      "--no-resolv",
      "--no-hosts",
      "--port=0",
      "--keep-in-foreground",
      "--log-dhcp",
      `--log-facility=${logFile}`,
      "--pid-file=",
      "--user=root",
      // dnsmasq(8) --dhcp-relay=<local address>,<server address>: requests arriving on the
      // interface holding the local address are forwarded to the server with giaddr = local.
      ...options.servers.map((server) => `--dhcp-relay=${gateway},${server}`),
    ];
    const [file, fileArgs] = host.argv(DNSMASQ, args);
    const child = execa(file, fileArgs, { reject: false, stdin: "ignore" });
    const relay = new DhcpRelay(host, gateway, downstream.subnet, logFile, child);
    await relay.#waitUntilReady();
    return relay;
  }

  /** Routes `host`'s traffic for the downstream subnet through this router (replies, HTTP). */
  async routeFrom(host: NetHost): Promise<void> {
    await host.run("ip", [
      "route",
      "add",
      `${this.downstreamSubnet}.0/24`,
      "via",
      this.upstreamAddress,
    ]);
  }

  async log(): Promise<string> {
    return readFile(this.logFile, "utf8");
  }

  async stop(): Promise<void> {
    this.#process.kill("SIGTERM");
    await this.#process;
  }

  #waitUntilReady(): Promise<void> {
    return waitForDnsmasq(this.#process, this.logFile, READY_LINE, "relaying DHCP");
  }
}
