/**
 * The TFTP server: read-only, one ephemeral socket per transfer (RFC 1350 §4 transfer IDs),
 * bounded concurrency overall and per client address, an absolute deadline per transfer. The
 * protocol lives in the pure modules next to this one; this file is only sockets, events and
 * the limits that keep one client from starving the others. What a request gets comes from a
 * `TftpFileSource` (default: the files under `root`, see file-source.ts).
 *
 * No handler ever throws: every datagram leaves through `#send`, which never sends to port 0
 * (Node's dgram throws ERR_SOCKET_BAD_PORT synchronously for it, and a throw inside a 'message'
 * handler ends the process) and turns send errors into a count and an event.
 */
import dgram from "node:dgram";
import { stat } from "node:fs/promises";
import { isIPv6 } from "node:net";
import { addressLookup } from "../address-lookup.js";
import { ConfigError, PathRefusedError, TftpDecodeError } from "../errors.js";
import { NetbootEvents } from "../events.js";
import { decodeTftp } from "./decode.js";
import { encodeError } from "./encode.js";
import {
  rootedFileSource,
  type FileSource,
  type TftpFileSource,
  type TftpPeer,
} from "./file-source.js";
import {
  DEFAULT_MAX_TIMEOUT_SECONDS,
  DEFAULT_MAX_WINDOW_SIZE,
  DEFAULT_MTU,
  DEFAULT_TIMEOUT_MS,
  negotiateOptions,
} from "./options.js";
import {
  TftpErrorCode,
  TftpErrorText,
  type TftpErrorTextValue,
  type TftpRequestPacket,
} from "./packet.js";
import {
  DEFAULT_TRANSFER_DEADLINE_MS,
  MAX_RETRANSMITS,
  ReadTransfer,
  systemTimers,
  type TransferTimers,
} from "./transfer.js";

export const DEFAULT_TFTP_PORT = 69;
export const DEFAULT_TFTP_ADDRESS = "0.0.0.0";
/**
 * Transfers served at once. A request beyond this is left unanswered, not refused: the client
 * repeats it (RFC 1350 §2: a recipient that times out retransmits its last packet) and is served
 * once a transfer ends. dnsmasq does the same by not reading its TFTP socket while `tftp-max`
 * transfers run (dnsmasq src/tftp.c: "Enforce simultaneous transfer limit. In non-single-port
 * mode this is done by not listening on the server socket"; src/dnsmasq.c set_tftp_listeners).
 * An ERROR ends the client's read (RFC 1350 §7), and with it the boot of a machine that asked
 * at a busy moment: the boot storm bench lost clients so.
 */
export const DEFAULT_MAX_TRANSFERS = 64;
/**
 * Transfers served at once to one client address. A firmware fetches one file at a time (UEFI's
 * tsize probe ends before its real read starts); four leave room for retries while one address
 * asking 64 times still leaves 60 slots to everyone else.
 */
export const DEFAULT_MAX_TRANSFERS_PER_ADDRESS = 4;
/** RFC 1350 §5: the only mode served. netascii would need line-ending translation. */
const OCTET_MODE = "octet";
/**
 * How long after a transfer the client ended (its last ACK, or its ERROR) an identical request
 * from the same address and port counts as a repeat of the old one, not a new read. Firmware
 * repeats a request until it hears from the server (RFC 1350 §2; edk2 every 4 s), so a repeat
 * sent before our first reply arrived can reach us after the transfer is over: the tsize probe of edk2 ends at once with ERROR 8, then edk2 closes its port. Started
 * anew, that repeat would send into a closed port and hold a slot until it gave up. Seconds
 * cover a repeat delayed in a loaded server's socket queue; a client reading the same file again
 * from the same port sooner than this is answered when its own retry comes after the window.
 */
export const REPEATED_REQUEST_WINDOW_MS = 5000;
/** Ended requests remembered for REPEATED_REQUEST_WINDOW_MS; the oldest go first beyond this. */
const MAX_REMEMBERED_REQUESTS = 256;
const SHUTDOWN_REASON = "server shutting down";
/** UDP port 0 is no one's address: a datagram "from" it cannot be answered. */
const UNANSWERABLE_PORT = 0;

export interface TftpServerOptions {
  /**
   * Directory served through `rootedFileSource` (every path resolved by `resolveUnderRoot`).
   * Required unless `source` is given.
   */
  readonly root?: string;
  /** What read requests get. Default: `rootedFileSource(root)`. */
  readonly source?: TftpFileSource;
  /**
   * Address to listen on. Default 0.0.0.0 (all interfaces); a server for one network should
   * pass its address there (NetbootServer does): TFTP clients unicast to the server address
   * they were given, so nothing arrives on the wildcard that matters.
   */
  readonly address?: string;
  /** UDP port. Default 69; 0 picks a free port (tests). */
  readonly port?: number;
  /** Link MTU; the largest blksize accepted is `mtu − 32`. Default 1500 (blksize ≤ 1468). */
  readonly mtu?: number;
  /** Largest RFC 7440 windowsize accepted. Default 64. */
  readonly maxWindowSize?: number;
  /** First retransmission interval unless the client negotiates `timeout`. Default 1000 ms. */
  readonly timeoutMs?: number;
  /** Largest RFC 2349 `timeout` acknowledged, in seconds. Default 10 (see options.ts). */
  readonly maxTimeoutSeconds?: number;
  /** Retransmissions without progress before a transfer is abandoned. Default MAX_RETRANSMITS (5). */
  readonly maxRetransmits?: number;
  /** Concurrent transfers. Default DEFAULT_MAX_TRANSFERS (64). */
  readonly maxTransfers?: number;
  /** Concurrent transfers to one client address. Default DEFAULT_MAX_TRANSFERS_PER_ADDRESS (4). */
  readonly maxTransfersPerAddress?: number;
  /** Longest one transfer may take, whatever its progress. Default 5 minutes. */
  readonly transferDeadlineMs?: number;
  /** Where events go. Default: a bus of the server's own (`server.events`). */
  readonly events?: NetbootEvents;
  /** Timers for retransmissions and deadlines (tests inject fake ones). */
  readonly timers?: TransferTimers;
}

/** The limits a composition (NetbootServer) may pass through. */
export type TftpLimits = Pick<
  TftpServerOptions,
  | "maxTransfers"
  | "maxTransfersPerAddress"
  | "transferDeadlineMs"
  | "maxTimeoutSeconds"
  | "maxWindowSize"
  | "mtu"
>;

export interface TftpServerAddress {
  readonly address: string;
  readonly port: number;
}

interface Session {
  readonly peer: string;
  /** The request's bytes: a repeat is byte for byte the same datagram. */
  readonly request: Buffer;
  transfer: ReadTransfer | undefined;
  readonly finished: Promise<void>;
}

/** A request whose transfer the client ended, kept to recognise its late repeats. */
interface EndedRequest {
  readonly request: Buffer;
  readonly endedAt: number;
}

type Limits = Required<Omit<TftpServerOptions, "events" | "root" | "source">>;

export class TftpServer {
  readonly events: NetbootEvents;
  readonly #options: Limits;
  readonly #root: string | undefined;
  readonly #source: TftpFileSource;
  readonly #sessions = new Map<string, Session>();
  /** Every session until its file and socket are closed (a slot is freed before that). */
  readonly #unfinished = new Set<Promise<void>>();
  /** By peer (address:port), oldest first; see REPEATED_REQUEST_WINDOW_MS. */
  readonly #ended = new Map<string, EndedRequest>();
  /** Transfers in progress per client address. */
  readonly #perAddress = new Map<string, number>();
  #socket: dgram.Socket | undefined;
  #closing = false;
  #sendFailures = 0;

  constructor(options: TftpServerOptions) {
    this.events = options.events ?? new NetbootEvents();
    if (options.source === undefined && options.root === undefined) {
      throw new ConfigError("the TFTP server needs a root directory or a file source");
    }
    this.#root = options.source === undefined ? options.root : undefined;
    this.#source = options.source ?? rootedFileSource(options.root as string);
    this.#options = {
      address: options.address ?? DEFAULT_TFTP_ADDRESS,
      port: options.port ?? DEFAULT_TFTP_PORT,
      mtu: options.mtu ?? DEFAULT_MTU,
      maxWindowSize: options.maxWindowSize ?? DEFAULT_MAX_WINDOW_SIZE,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxTimeoutSeconds: options.maxTimeoutSeconds ?? DEFAULT_MAX_TIMEOUT_SECONDS,
      maxRetransmits: options.maxRetransmits ?? MAX_RETRANSMITS,
      maxTransfers: options.maxTransfers ?? DEFAULT_MAX_TRANSFERS,
      maxTransfersPerAddress: options.maxTransfersPerAddress ?? DEFAULT_MAX_TRANSFERS_PER_ADDRESS,
      transferDeadlineMs: options.transferDeadlineMs ?? DEFAULT_TRANSFER_DEADLINE_MS,
      timers: options.timers ?? systemTimers,
    };
  }

  /** Binds the listening socket. Resolves with the address actually bound (port 0 → real port). */
  async start(): Promise<TftpServerAddress> {
    if (this.#socket) throw new ConfigError("the TFTP server is already started");
    const { address, port } = this.#options;
    if (this.#root !== undefined) {
      const info = await stat(this.#root).catch(() => undefined);
      if (!info?.isDirectory()) {
        throw new ConfigError(
          `TFTP root ${this.#root} is not a directory: create it or pass another root`,
        );
      }
    }
    const socket = createSocket(address);
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ address, port }, () => {
        socket.off("error", reject);
        resolve();
      });
    }).catch((error: NodeJS.ErrnoException) => {
      socket.close();
      throw new ConfigError(bindFailure(address, port, error));
    });
    socket.on("message", (bytes, from) => this.#guarded(() => this.#onRequest(bytes, from)));
    socket.on("error", (error) => this.#serverError(error.message));
    this.#socket = socket;
    this.#closing = false;
    return this.address();
  }

  address(): TftpServerAddress {
    if (!this.#socket) throw new ConfigError("the TFTP server is not started");
    const { address, port } = this.#socket.address();
    return { address, port };
  }

  /** Transfers in progress. */
  get activeTransfers(): number {
    return this.#sessions.size;
  }

  /** Datagrams that could not be sent (each also reported as a server.error event). */
  get sendFailures(): number {
    return this.#sendFailures;
  }

  /** Stops listening, aborts every transfer with an ERROR and releases every socket and file. */
  async close(): Promise<void> {
    this.#closing = true;
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) await closeSocket(socket);
    for (const session of this.#sessions.values()) {
      session.transfer?.abort(SHUTDOWN_REASON, TftpErrorText.shuttingDown);
    }
    await Promise.all(this.#unfinished);
  }

  #onRequest(bytes: Buffer, from: dgram.RemoteInfo): void {
    const peer = peerName(from);
    if (from.port === UNANSWERABLE_PORT) {
      this.#emitError(peer, undefined, "ignored: source port 0 cannot be answered");
      return;
    }
    let request;
    try {
      request = decodeTftp(bytes);
    } catch (error) {
      // No reply to what is not TFTP: answering junk would make us a reflector.
      const reason = error instanceof TftpDecodeError ? error.message : String(error);
      this.#emitError(peer, undefined, `ignored: ${reason}`);
      return;
    }
    if (request.type === "WRQ") {
      this.#refuse(from, request.filename, TftpErrorCode.AccessViolation, TftpErrorText.readOnly);
      return;
    }
    if (request.type !== "RRQ") {
      const reason = `${request.type} without a transfer: expected a read request`;
      this.#refuse(
        from,
        undefined,
        TftpErrorCode.IllegalOperation,
        TftpErrorText.illegalOperation,
        reason,
      );
      return;
    }
    if (this.#closing) return;
    const live = this.#sessions.get(peer);
    if (live) {
      // A client that repeats its RRQ has not heard our first reply: it goes again, once per
      // retransmission interval at most (ReadTransfer.repeatFirstReply). Another request from
      // the same port while a transfer runs is not TFTP (RFC 1350 §4: one transfer per TID).
      if (live.request.equals(bytes)) live.transfer?.repeatFirstReply();
      return;
    }
    if (this.#isLateRepeat(peer, bytes)) {
      this.#emitError(peer, request.filename, "ignored: repeat of a request already served");
      return;
    }
    const { maxTransfers, maxTransfersPerAddress } = this.#options;
    if (this.#sessions.size >= maxTransfers) {
      const reason = `deferred: ${this.#sessions.size} transfers in progress (limit ${maxTransfers}); the client's repeat is served when one ends`;
      this.#emitError(peer, request.filename, reason);
      return;
    }
    const fromAddress = this.#perAddress.get(from.address) ?? 0;
    if (fromAddress >= maxTransfersPerAddress) {
      const reason =
        `refused: ${fromAddress} transfers to ${from.address} in progress ` +
        `(limit ${maxTransfersPerAddress} per address)`;
      this.#refuse(from, request.filename, TftpErrorCode.NotDefined, TftpErrorText.busy, reason);
      return;
    }
    this.#perAddress.set(from.address, fromAddress + 1);
    const client: TftpPeer = { address: from.address, port: from.port };
    let released = false;
    // The slot is free as soon as the transfer's outcome is known, before its file and socket
    // are closed: a client ending its size probe asks for the real read at once.
    const release = () => {
      if (released) return;
      released = true;
      this.#sessions.delete(peer);
      const left = (this.#perAddress.get(client.address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(client.address, left);
      else this.#perAddress.delete(client.address);
    };
    const session: Session = {
      peer,
      request: Buffer.from(bytes),
      transfer: undefined,
      finished: this.#serve(request, client, () => session, release)
        .catch((error: unknown) => this.#serverError(`${peer}: ${errorText(error)}`))
        .finally(release),
    };
    this.#sessions.set(peer, session);
    this.#unfinished.add(session.finished);
    void session.finished.then(() => this.#unfinished.delete(session.finished));
  }

  /** An identical request from `peer` whose transfer the client ended moments ago. */
  #isLateRepeat(peer: string, bytes: Buffer): boolean {
    const now = performance.now();
    for (const [key, ended] of this.#ended) {
      if (now - ended.endedAt <= REPEATED_REQUEST_WINDOW_MS) break;
      this.#ended.delete(key);
    }
    return this.#ended.get(peer)?.request.equals(bytes) ?? false;
  }

  #rememberEnded(peer: string, request: Buffer): void {
    this.#ended.delete(peer);
    this.#ended.set(peer, { request, endedAt: performance.now() });
    for (const key of this.#ended.keys()) {
      if (this.#ended.size <= MAX_REMEMBERED_REQUESTS) break;
      this.#ended.delete(key);
    }
  }

  async #serve(
    request: TftpRequestPacket,
    client: TftpPeer,
    session: () => Session,
    release: () => void,
  ): Promise<void> {
    const file = request.filename;
    if (request.mode.toLowerCase() !== OCTET_MODE) {
      const reason = `transfer mode ${JSON.stringify(request.mode)} is not supported`;
      this.#refuse(client, file, TftpErrorCode.IllegalOperation, TftpErrorText.octetOnly, reason);
      return;
    }
    let source: FileSource;
    try {
      source = await this.#source(file, client);
    } catch (error) {
      if (error instanceof PathRefusedError && error.notFound) {
        this.#refuse(
          client,
          file,
          TftpErrorCode.FileNotFound,
          TftpErrorText.notFound,
          error.message,
        );
      } else {
        // Refusals and fs errors (which name server paths) alike: the client gets the gist.
        const reason = errorText(error);
        this.#refuse(
          client,
          file,
          TftpErrorCode.AccessViolation,
          TftpErrorText.accessViolation,
          reason,
        );
      }
      return;
    }
    let socket: dgram.Socket | undefined;
    try {
      if (this.#closing) return;
      socket = await this.#transferSocket();
      await this.#run(request, client, source, socket, session(), release);
    } catch (error) {
      const reason = errorText(error);
      this.#refuse(client, file, TftpErrorCode.NotDefined, TftpErrorText.serverError, reason);
      this.#serverError(`${peerName(client)}: ${reason}`);
    } finally {
      await source.close().catch(() => undefined);
      if (socket) await closeSocket(socket);
    }
  }

  async #run(
    request: TftpRequestPacket,
    client: TftpPeer,
    source: FileSource,
    socket: dgram.Socket,
    session: Session,
    release: () => void,
  ): Promise<void> {
    const peer = peerName(client);
    const negotiated = negotiateOptions(request.options, source.size, {
      mtu: this.#options.mtu,
      maxWindowSize: this.#options.maxWindowSize,
      defaultTimeoutMs: this.#options.timeoutMs,
      maxTimeoutSeconds: this.#options.maxTimeoutSeconds,
    });
    const sent = this.#sentCallback(client);
    const transfer = new ReadTransfer({
      source,
      ...negotiated,
      send: (bytes) => this.#send(socket, bytes, client, sent),
      timers: this.#options.timers,
      maxRetransmits: this.#options.maxRetransmits,
      deadlineMs: this.#options.transferDeadlineMs,
    });
    session.transfer = transfer;
    socket.on("message", (bytes, from) =>
      this.#guarded(() => {
        if (from.port === UNANSWERABLE_PORT) return;
        if (from.address !== client.address || from.port !== client.port) {
          // RFC 1350 §4: a packet from a stranger gets ERROR 5 and does not disturb the transfer.
          const reply = encodeError(
            TftpErrorCode.UnknownTransferId,
            TftpErrorText.unknownTransferId,
          );
          this.#send(socket, reply, from);
          return;
        }
        try {
          transfer.receive(decodeTftp(bytes));
        } catch (error) {
          // A mangled packet on a transfer socket is as good as lost: the retransmit timer copes.
          if (!(error instanceof TftpDecodeError)) throw error;
        }
      }),
    );
    socket.on("error", (error) => transfer.abort(`socket error: ${error.message}`));
    const started = performance.now();
    this.events.emit({
      type: "tftp.start",
      peer,
      file: request.filename,
      size: source.size,
      blksize: negotiated.blockSize,
      windowsize: negotiated.windowSize,
    });
    transfer.start();
    // close() may have run while this transfer's socket was being bound.
    if (this.#closing) transfer.abort(SHUTDOWN_REASON, TftpErrorText.shuttingDown);
    const outcome = await transfer.done;
    release();
    // Only when the client ended it: after a timeout the client may still be there, repeating.
    if (outcome.ok || outcome.endedByClient) this.#rememberEnded(peer, session.request);
    if (outcome.ok) {
      this.events.emit({
        type: "tftp.end",
        peer,
        file: request.filename,
        bytes: outcome.bytes,
        durationMs: performance.now() - started,
      });
    } else {
      this.#emitError(peer, request.filename, outcome.reason);
    }
  }

  async #transferSocket(): Promise<dgram.Socket> {
    const socket = createSocket(this.#options.address);
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ address: this.#options.address, port: 0 }, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    return socket;
  }

  /**
   * The one way out for datagrams. Never to port 0; a send that throws or fails later is
   * counted and reported, never raised: to the protocol it is a lost packet, which retransmits
   * cover.
   */
  #send(
    socket: dgram.Socket,
    bytes: Buffer,
    to: TftpPeer,
    onSent: (error: Error | null) => void = this.#sentCallback(to),
  ): void {
    if (to.port === UNANSWERABLE_PORT) {
      this.#sendFailed(to, "port 0 cannot be sent to");
      return;
    }
    try {
      socket.send(bytes, to.port, to.address, onSent);
    } catch (error) {
      this.#sendFailed(to, errorText(error));
    }
  }

  /** What a send to `to` calls back; a transfer makes one for all its packets. */
  #sentCallback(to: TftpPeer): (error: Error | null) => void {
    return (error) => {
      if (error) this.#sendFailed(to, error.message);
    };
  }

  #sendFailed(to: TftpPeer, reason: string): void {
    this.#sendFailures++;
    this.#serverError(`sending to ${peerName(to)} failed: ${reason}`);
  }

  /** Runs a socket handler; whatever it throws becomes an event, never an uncaught exception. */
  #guarded(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.#serverError(`handler failed: ${errorText(error)}`);
    }
  }

  /**
   * Answers a request with a fixed ERROR text from the listening socket and reports why;
   * `detail` (which may name the file or a server path) goes only into the event.
   */
  #refuse(
    client: TftpPeer,
    file: string | undefined,
    code: number,
    text: TftpErrorTextValue,
    detail: string = text,
  ): void {
    if (this.#socket) this.#send(this.#socket, encodeError(code, text), client);
    this.#emitError(peerName(client), file, detail);
  }

  #emitError(peer: string, file: string | undefined, reason: string): void {
    this.events.emit({ type: "tftp.error", peer, file, reason });
  }

  #serverError(error: string): void {
    this.events.emit({ type: "server.error", server: "tftp", error });
  }
}

function createSocket(address: string): dgram.Socket {
  // Every DATA and OACK goes to an address: no tick per datagram for its lookup.
  return dgram.createSocket({ type: isIPv6(address) ? "udp6" : "udp4", lookup: addressLookup });
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

function peerName(peer: TftpPeer): string {
  return isIPv6(peer.address) ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
}

function bindFailure(address: string, port: number, error: NodeJS.ErrnoException): string {
  const where = `UDP ${address}:${port}`;
  switch (error.code) {
    case "EACCES":
      return `cannot listen on ${where}: ports below 1024 need root or CAP_NET_BIND_SERVICE`;
    case "EADDRINUSE":
      return `cannot listen on ${where}: another TFTP server (tftpd-hpa, dnsmasq?) already uses it; stop it or pick another port`;
    case "EADDRNOTAVAIL":
      return `cannot listen on ${where}: no interface has address ${address}; pick one this machine has`;
    default:
      return `cannot listen on ${where}: ${error.message}`;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
