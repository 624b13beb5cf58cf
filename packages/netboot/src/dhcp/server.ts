/**
 * The proxyDHCP server: the socket edge around the pure decisions in proxy.ts. Two UDP sockets,
 * 0.0.0.0:67 (DISCOVERs, broadcast) and 0.0.0.0:4011 (PXE boot server REQUESTs, unicast). Every
 * packet goes decode → inspect → boot policy → reply, and every outcome is an event; no input,
 * however malformed, and no policy failure stops the server.
 *
 * Node's dgram has neither SO_BINDTODEVICE nor IP_PKTINFO (PXE-FACTS §8): the server cannot
 * tell which interface a packet came in on, and hears every interface of the machine. So it
 * answers PXE clients on every network it hears, always naming `serverAddress`. Broadcast
 * replies (to 255.255.255.255, the only broadcast OVMF accepts: ADR 0011) would follow the
 * default route on a multi-homed machine; they are sent from a third socket bound to
 * `serverAddress`:67 instead, and Linux sends a limited broadcast from a socket bound to a local
 * address out of that address's interface (net/ipv4/route.c, "direct limited broadcast via
 * necessary interface"), which the namespace test measures.
 */
import dgram from "node:dgram";
import { addressLookup } from "../address-lookup.js";
import { ConfigError, DhcpDecodeError } from "../errors.js";
import { NetbootEvents } from "../events.js";
import {
  clientArch,
  clientMac,
  isIpxe,
  messageType,
  userClasses,
  vendorClass,
} from "./accessors.js";
import { DhcpPort, HeaderOffset, messageTypeName } from "./constants.js";
import { readOption } from "./options.js";
import { encodeDhcp, decodeDhcp, type DhcpPacket } from "./packet.js";
import {
  answerPxeRequest,
  inspectPxeRequest,
  LIMITED_BROADCAST,
  type BootFileAnswer,
  type BootFileSource,
  type Endpoint,
  type PxeRequest,
} from "./proxy.js";

export interface ProxyDhcpServerOptions {
  /** Our IPv4 address on the clients' network: option 54, siaddr, TFTP server. Required. */
  readonly serverAddress: string;
  /**
   * The finished boot file for each PXE client, or why it gets none. Required. Usually
   * `chainload({ policy, httpBaseUrl, firstStages })` (../chainload/); a throw (or rejection)
   * becomes a policy.error event and no answer.
   */
  readonly bootFiles: BootFileSource;
  /** Where events go. Default: a new bus, readable as `server.events`. */
  readonly events?: NetbootEvents;
  /** Ports to bind. Default 67 and 4011; tests in namespaces may pick others. */
  readonly ports?: { readonly dhcp?: number; readonly pxe?: number };
  /**
   * Address the listening sockets bind to. Default 0.0.0.0: broadcasts only arrive there. Any
   * other address (tests on 127.0.0.1) also means no egress socket on `serverAddress`.
   */
  readonly bindAddress?: string;
  /**
   * Destination of broadcast replies. Default 255.255.255.255: OVMF (EDK2) ignores offers sent
   * to the subnet broadcast address (ADR 0011).
   */
  readonly broadcastAddress?: string;
}

/** `role` is the logical port the decision rules are written for (67 or 4011). */
type Listener = { readonly socket: dgram.Socket; readonly role: number };

const WILDCARD = "0.0.0.0";
/**
 * 1 MiB of queued requests, about a second of DISCOVERs at 1k/s: a pause of the event loop (a
 * garbage collection, a busy host) then delays answers instead of dropping them (bench/dhcp).
 * The kernel caps it at net.core.rmem_max.
 */
export const DHCP_RECEIVE_BUFFER_BYTES = 1024 * 1024;

function bindError(address: string, port: number, error: NodeJS.ErrnoException): ConfigError {
  const fix =
    error.code === "EADDRNOTAVAIL"
      ? "serverAddress must be an address of this machine, on the network the PXE clients are on"
      : error.code === "EADDRINUSE"
        ? "another DHCP or PXE server (dnsmasq, another netboot) is bound to it on this machine; stop it or run in another network namespace"
        : error.code === "EACCES"
          ? "binding ports below 1024 needs root or CAP_NET_BIND_SERVICE"
          : "check the bind address and the network configuration";
  return new ConfigError(
    `cannot bind UDP ${address}:${port} for proxyDHCP: ${error.message}; ${fix}`,
  );
}

export const IGNORED_SOURCE_PORT_ZERO = "source port 0: no reply can reach it";

export class ProxyDhcpServer {
  readonly events: NetbootEvents;
  readonly #options: ProxyDhcpServerOptions;
  readonly #broadcastAddress: string;
  #listeners: Listener[] = [];
  #egress: Listener | undefined;

  constructor(options: ProxyDhcpServerOptions) {
    this.#options = options;
    this.events = options.events ?? new NetbootEvents();
    this.#broadcastAddress = options.broadcastAddress ?? LIMITED_BROADCAST;
  }

  /** The address broadcast replies are sent to. */
  get broadcastAddress(): string {
    return this.#broadcastAddress;
  }

  /**
   * Binds 0.0.0.0:67, 0.0.0.0:4011 and the egress socket `serverAddress`:67. Rejects with a
   * ConfigError (naming address, port, cause and fix) when one cannot bind.
   */
  async start(): Promise<void> {
    if (this.#listeners.length > 0) return;
    const ports = this.#options.ports ?? {};
    const roles: Array<[number, number]> = [
      [ports.dhcp ?? DhcpPort.server, DhcpPort.server],
      [ports.pxe ?? DhcpPort.pxeBootServer, DhcpPort.pxeBootServer],
    ];
    const bindAddress = this.#options.bindAddress ?? WILDCARD;
    try {
      for (const [port, role] of roles)
        this.#listeners.push(await this.#bind(bindAddress, port, role));
      // The egress socket: replies on port 67 leave from serverAddress:67 (see the module doc).
      // It also receives what is unicast to serverAddress:67 (relay agents), so it answers too.
      if (bindAddress === WILDCARD) {
        const dhcpPort = this.#listeners[0]?.socket.address().port as number;
        this.#egress = await this.#bind(this.#options.serverAddress, dhcpPort, DhcpPort.server);
        this.#listeners.push(this.#egress);
      }
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** The bound port of each role (useful when `ports` asked for 0). */
  get boundPorts(): { readonly dhcp: number | undefined; readonly pxe: number | undefined } {
    const portOf = (role: number) => {
      const listener = this.#listeners.find((candidate) => candidate.role === role);
      return listener?.socket.address().port;
    };
    return { dhcp: portOf(DhcpPort.server), pxe: portOf(DhcpPort.pxeBootServer) };
  }

  /** Closes every socket; resolves when the ports are released. */
  async close(): Promise<void> {
    const listeners = this.#listeners;
    this.#listeners = [];
    this.#egress = undefined;
    await Promise.all(
      listeners.map(({ socket }) => new Promise<void>((resolve) => socket.close(() => resolve()))),
    );
  }

  #bind(address: string, port: number, role: number): Promise<Listener> {
    const socket = dgram.createSocket({
      type: "udp4",
      reuseAddr: true,
      recvBufferSize: DHCP_RECEIVE_BUFFER_BYTES,
      lookup: addressLookup,
    });
    const listener: Listener = { socket, role };
    return new Promise((resolve, reject) => {
      const onBindError = (error: NodeJS.ErrnoException) => {
        socket.close();
        reject(bindError(address, port, error));
      };
      socket.once("error", onBindError);
      socket.bind({ port, address }, () => {
        socket.off("error", onBindError);
        socket.setBroadcast(true);
        socket.on("error", (error) =>
          this.events.emit({ type: "server.error", server: "dhcp", error: error.message }),
        );
        socket.on("message", (message, rinfo) => {
          try {
            this.#handle(listener, message, rinfo);
          } catch (error) {
            this.#failed(error);
          }
        });
        resolve(listener);
      });
    });
  }

  /** An unexpected throw of the request path: reported, never fatal to the server. */
  #failed(error: unknown): void {
    this.events.emit({ type: "server.error", server: "dhcp", error: String(error) });
  }

  #ignored(
    port: number,
    from: Endpoint,
    reason: string,
    packet?: DhcpPacket,
    bytes?: Buffer,
  ): void {
    const xid =
      packet?.xid ??
      (bytes && bytes.length >= HeaderOffset.secs
        ? bytes.readUInt32BE(HeaderOffset.xid)
        : undefined);
    this.events.emit({
      type: "dhcp.ignored",
      mac: packet ? clientMac(packet) : undefined,
      xid,
      port,
      from: from.address,
      reason,
    });
  }

  /** Reads what the request event shows without letting a malformed option stop the handler. */
  #describe(packet: DhcpPacket) {
    const safely = <T>(read: () => T): T | undefined => {
      try {
        return read();
      } catch (error) {
        if (error instanceof DhcpDecodeError) return undefined;
        throw error;
      }
    };
    return {
      message: messageTypeName(safely(() => messageType(packet))),
      arch: safely(() => clientArch(packet)),
      vendorClass: safely(() => vendorClass(packet)),
      userClass: safely(() => userClasses(packet).join(",")) || undefined,
      isIpxe: safely(() => isIpxe(packet)) ?? false,
      requestedAddress: safely(() => readOption(packet, "requestedIpAddress")),
      clientAddress: packet.ciaddr === "0.0.0.0" ? undefined : packet.ciaddr,
    };
  }

  /**
   * Synchronous up to the send when the boot-file source is (a static policy): no promise, no
   * microtask and no closure per DISCOVER on the way to the OFFER (docs/benchmarks.md, DHCP).
   */
  #handle(listener: Listener, bytes: Buffer, from: Endpoint): void {
    const port = listener.role;
    // No DHCP client (68) or relay (67) sends from port 0, and Node's `send` to port 0 throws
    // (ERR_SOCKET_BAD_PORT): drop it before any work, as the TFTP server does.
    if (from.port === 0) {
      this.#ignored(port, from, IGNORED_SOURCE_PORT_ZERO, undefined, bytes);
      return;
    }
    let request: DhcpPacket;
    try {
      request = decodeDhcp(bytes);
    } catch (error) {
      if (!(error instanceof DhcpDecodeError)) throw error;
      this.#ignored(port, from, error.message, undefined, bytes);
      return;
    }
    const mac = clientMac(request);
    // Describing the request reads five options: only worth it when someone listens.
    if (mac !== undefined && this.events.hasListeners)
      this.events.emit({
        type: "dhcp.request",
        mac,
        xid: request.xid,
        port,
        from: from.address,
        relay: request.giaddr === "0.0.0.0" ? undefined : request.giaddr,
        ...this.#describe(request),
      });
    const pxe = inspectPxeRequest(request, port);
    if ("ignore" in pxe) {
      this.#ignored(port, from, pxe.ignore, request);
      return;
    }
    let answer: BootFileAnswer | Promise<BootFileAnswer>;
    try {
      answer = this.#options.bootFiles(pxe);
    } catch (error) {
      this.#policyFailed(pxe, error);
      return;
    }
    if (answer instanceof Promise)
      answer
        .then(
          (settled) => this.#answer(listener, request, pxe, from, settled),
          (error: unknown) => this.#policyFailed(pxe, error),
        )
        .catch((error: unknown) => this.#failed(error));
    else this.#answer(listener, request, pxe, from, answer);
  }

  #policyFailed(pxe: PxeRequest, error: unknown): void {
    this.events.emit({
      type: "policy.error",
      mac: pxe.mac,
      stage: "dhcp",
      error: error instanceof Error ? error.message : String(error),
    });
  }

  #answer(
    listener: Listener,
    request: DhcpPacket,
    pxe: PxeRequest,
    from: Endpoint,
    answer: BootFileAnswer,
  ): void {
    if ("ignore" in answer) this.#ignored(listener.role, from, answer.ignore, request);
    else this.#reply(listener, request, pxe, from, answer.bootFile);
  }

  #reply(
    listener: Listener,
    request: DhcpPacket,
    pxe: PxeRequest,
    from: Endpoint,
    bootFile: string,
  ): void {
    const port = listener.role;
    const outcome = answerPxeRequest(pxe, {
      request,
      port,
      source: from,
      serverAddress: this.#options.serverAddress,
      bootFile,
      broadcastAddress: this.#broadcastAddress,
    });
    const datagram = encodeDhcp(outcome.reply);
    const { address, port: destinationPort } = outcome.destination;
    const sender = port === DhcpPort.server ? (this.#egress ?? listener) : listener;
    // Nobody listens: nothing to report either way, so no completion callback (Node's dgram
    // calls one through process.nextTick even after a synchronous send: lib/dgram.js, doSend).
    const sent = !this.events.hasListeners
      ? undefined
      : (error: Error | null) => {
          if (error) {
            this.events.emit({
              type: "server.error",
              server: "dhcp",
              error: `sending the ${messageTypeName(messageType(outcome.reply))} for ${pxe.mac} to ${address}:${destinationPort} failed: ${error.message}`,
            });
            return;
          }
          this.events.emit({
            type: "dhcp.reply",
            mac: pxe.mac,
            xid: request.xid,
            message: port === DhcpPort.server ? "OFFER" : "ACK",
            port,
            to: `${address}:${destinationPort}`,
            firmware: pxe.arch.firmware,
            httpBoot: pxe.httpBoot,
            bootFile: outcome.bootFile,
            nextServer: this.#options.serverAddress,
          });
        };
    try {
      sender.socket.send(datagram, destinationPort, address, sent);
    } catch (error) {
      // A send that throws (a bad destination) must never escape the handler.
      sent?.(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
