/**
 * The TFTP server: read-only, rooted, one ephemeral socket per transfer (RFC 1350 §4 transfer
 * IDs), bounded concurrency. The protocol lives in the pure modules next to this one; this file
 * is only sockets, files and events.
 */
import dgram from "node:dgram";
import { stat } from "node:fs/promises";
import { isIPv6 } from "node:net";
import { ConfigError, PathRefusedError, TftpDecodeError } from "../errors.js";
import { NetbootEvents } from "../events.js";
import { resolveUnderRoot } from "../rooted-path.js";
import { decodeTftp } from "./decode.js";
import { encodeError } from "./encode.js";
import { openFileSource, type FileSource } from "./file-source.js";
import {
  DEFAULT_MAX_WINDOW_SIZE,
  DEFAULT_MTU,
  DEFAULT_TIMEOUT_MS,
  negotiateOptions,
} from "./options.js";
import { TftpErrorCode, type TftpRequestPacket } from "./packet.js";
import { MAX_RETRANSMITS, ReadTransfer, systemTimers, type TransferTimers } from "./transfer.js";

export const DEFAULT_TFTP_PORT = 69;
export const DEFAULT_TFTP_ADDRESS = "0.0.0.0";
/** Transfers served at once; a request beyond this gets ERROR "server busy". */
export const DEFAULT_MAX_TRANSFERS = 64;
/** RFC 1350 §5: the only mode served. netascii would need line-ending translation. */
const OCTET_MODE = "octet";
const SHUTDOWN_REASON = "server shutting down";

export interface TftpServerOptions {
  /** Directory served. Every requested path is resolved under it by `resolveUnderRoot`. */
  readonly root: string;
  /** Address to listen on. Default 0.0.0.0 (all interfaces). */
  readonly address?: string;
  /** UDP port. Default 69; 0 picks a free port (tests). */
  readonly port?: number;
  /** Link MTU; the largest blksize accepted is `mtu − 32`. Default 1500 (blksize ≤ 1468). */
  readonly mtu?: number;
  /** Largest RFC 7440 windowsize accepted. Default 64. */
  readonly maxWindowSize?: number;
  /** First retransmission interval unless the client negotiates `timeout`. Default 1000 ms. */
  readonly timeoutMs?: number;
  /** Retransmissions without progress before a transfer is abandoned. Default MAX_RETRANSMITS (5). */
  readonly maxRetransmits?: number;
  /** Concurrent transfers. Default DEFAULT_MAX_TRANSFERS (64). */
  readonly maxTransfers?: number;
  /** Where events go. Default: a bus of the server's own (`server.events`). */
  readonly events?: NetbootEvents;
  /** Timers for retransmissions (tests inject fake ones). */
  readonly timers?: TransferTimers;
}

export interface TftpServerAddress {
  readonly address: string;
  readonly port: number;
}

interface Session {
  readonly peer: string;
  transfer: ReadTransfer | undefined;
  readonly finished: Promise<void>;
}

interface Peer {
  readonly address: string;
  readonly port: number;
}

export class TftpServer {
  readonly events: NetbootEvents;
  readonly #options: Required<Omit<TftpServerOptions, "events">>;
  readonly #sessions = new Map<string, Session>();
  #socket: dgram.Socket | undefined;
  #closing = false;

  constructor(options: TftpServerOptions) {
    this.events = options.events ?? new NetbootEvents();
    this.#options = {
      root: options.root,
      address: options.address ?? DEFAULT_TFTP_ADDRESS,
      port: options.port ?? DEFAULT_TFTP_PORT,
      mtu: options.mtu ?? DEFAULT_MTU,
      maxWindowSize: options.maxWindowSize ?? DEFAULT_MAX_WINDOW_SIZE,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxRetransmits: options.maxRetransmits ?? MAX_RETRANSMITS,
      maxTransfers: options.maxTransfers ?? DEFAULT_MAX_TRANSFERS,
      timers: options.timers ?? systemTimers,
    };
  }

  /** Binds the listening socket. Resolves with the address actually bound (port 0 → real port). */
  async start(): Promise<TftpServerAddress> {
    if (this.#socket) throw new ConfigError("the TFTP server is already started");
    const { root, address, port } = this.#options;
    const info = await stat(root).catch(() => undefined);
    if (!info?.isDirectory()) {
      throw new ConfigError(`TFTP root ${root} is not a directory: create it or pass another root`);
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
    socket.on("message", (bytes, from) => this.#onRequest(bytes, from));
    socket.on("error", (error) =>
      this.events.emit({ type: "server.error", server: "tftp", error: error.message }),
    );
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

  /** Stops listening, aborts every transfer with an ERROR and releases every socket and file. */
  async close(): Promise<void> {
    this.#closing = true;
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) await closeSocket(socket);
    for (const session of this.#sessions.values()) session.transfer?.abort(SHUTDOWN_REASON);
    await Promise.all([...this.#sessions.values()].map((session) => session.finished));
  }

  #onRequest(bytes: Buffer, from: dgram.RemoteInfo): void {
    const peer = peerName(from);
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
      this.#refuse(from, request.filename, TftpErrorCode.AccessViolation, "server is read-only");
      return;
    }
    if (request.type !== "RRQ") {
      const reason = `${request.type} without a transfer: expected a read request`;
      this.#refuse(from, undefined, TftpErrorCode.IllegalOperation, reason);
      return;
    }
    // A client that repeats its RRQ (our first answer was lost) keeps its transfer.
    if (this.#sessions.has(peer) || this.#closing) return;
    if (this.#sessions.size >= this.#options.maxTransfers) {
      const reason = `server busy: ${this.#sessions.size} transfers in progress, try again later`;
      this.#refuse(from, request.filename, TftpErrorCode.NotDefined, reason);
      return;
    }
    const session: Session = {
      peer,
      transfer: undefined,
      finished: this.#serve(request, from, () => session).finally(() =>
        this.#sessions.delete(peer),
      ),
    };
    this.#sessions.set(peer, session);
  }

  async #serve(request: TftpRequestPacket, client: Peer, session: () => Session): Promise<void> {
    const peer = peerName(client);
    const file = request.filename;
    if (request.mode.toLowerCase() !== OCTET_MODE) {
      const reason = `transfer mode "${request.mode}" is not supported: use octet (binary) mode`;
      this.#refuse(client, file, TftpErrorCode.IllegalOperation, reason);
      return;
    }
    let source: FileSource;
    try {
      const resolved = await resolveUnderRoot(this.#options.root, file);
      source = await openFileSource(resolved.path);
    } catch (error) {
      if (error instanceof PathRefusedError) {
        const code = error.notFound ? TftpErrorCode.FileNotFound : TftpErrorCode.AccessViolation;
        this.#refuse(client, file, code, error.message);
      } else {
        // fs errors name server paths: the client gets the gist, the event gets the details.
        const reason = error instanceof Error ? error.message : String(error);
        this.#refuse(client, file, TftpErrorCode.AccessViolation, "cannot open file", reason);
      }
      return;
    }
    let socket: dgram.Socket | undefined;
    try {
      if (this.#closing) return;
      socket = await this.#transferSocket();
      await this.#run(request, client, source, socket, session());
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.#refuse(client, file, TftpErrorCode.NotDefined, "server error", reason);
      this.events.emit({ type: "server.error", server: "tftp", error: `${peer}: ${reason}` });
    } finally {
      await source.close().catch(() => undefined);
      if (socket) await closeSocket(socket);
    }
  }

  async #run(
    request: TftpRequestPacket,
    client: Peer,
    source: FileSource,
    socket: dgram.Socket,
    session: Session,
  ): Promise<void> {
    const peer = peerName(client);
    const negotiated = negotiateOptions(request.options, source.size, {
      mtu: this.#options.mtu,
      maxWindowSize: this.#options.maxWindowSize,
      defaultTimeoutMs: this.#options.timeoutMs,
    });
    const transfer = new ReadTransfer({
      source,
      ...negotiated,
      send: (bytes) => socket.send(bytes, client.port, client.address, ignoreSendError),
      timers: this.#options.timers,
      maxRetransmits: this.#options.maxRetransmits,
    });
    session.transfer = transfer;
    socket.on("message", (bytes, from) => {
      if (from.address !== client.address || from.port !== client.port) {
        // RFC 1350 §4: a packet from a stranger gets ERROR 5 and does not disturb the transfer.
        const reply = encodeError(TftpErrorCode.UnknownTransferId, "unknown transfer ID");
        socket.send(reply, from.port, from.address, ignoreSendError);
        return;
      }
      try {
        transfer.receive(decodeTftp(bytes));
      } catch {
        // A mangled packet on a transfer socket is as good as lost: the retransmit timer copes.
      }
    });
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
    if (this.#closing) transfer.abort(SHUTDOWN_REASON);
    const outcome = await transfer.done;
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
   * Answers a request with an ERROR from the listening socket and reports why; `detail` goes
   * only into the event when the client must not see it.
   */
  #refuse(
    client: Peer,
    file: string | undefined,
    code: number,
    message: string,
    detail = message,
  ): void {
    this.#socket?.send(encodeError(code, message), client.port, client.address, ignoreSendError);
    this.#emitError(peerName(client), file, detail);
  }

  #emitError(peer: string, file: string | undefined, reason: string): void {
    this.events.emit({ type: "tftp.error", peer, file, reason });
  }
}

function createSocket(address: string): dgram.Socket {
  return dgram.createSocket({ type: isIPv6(address) ? "udp6" : "udp4" });
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

function peerName(peer: Peer): string {
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

// Sends that fail (no route, buffer full) are lost packets: the retransmit timer covers them.
function ignoreSendError(): void {}
