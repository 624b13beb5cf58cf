/**
 * What one HTTP client may hold of the boot server: time to send its request, idle time, bytes
 * of body, connections. Each limit is fastify's or Node's own option where one exists; the
 * per-address connection cap is ours (neither has one). Every route on the instance gets them,
 * including routes a caller adds (metal's callback API): they act on sockets, not routes.
 *
 * - `connectionTimeout` (fastify → `server.setTimeout`): a socket with no byte moving either
 *   way for this long is destroyed (fastify docs Reference/Server.md#connectiontimeout; Node
 *   http `server.setTimeout`). Default in both: none.
 * - `requestTimeout` (fastify → Node `server.requestTimeout`): the whole request, headers and
 *   body, must arrive within it, else 408 and the socket closes. fastify's default is 0 (none);
 *   its docs ask for a non-zero value on a server without a reverse proxy in front.
 * - `headersTimeout` (Node `http.createServer` option): the headers must arrive within it.
 * - `connectionsCheckingInterval` (Node option, default 30 s): how often Node looks for requests
 *   past those two timeouts; 1 s cuts a trickled request close to its deadline.
 * - `keepAliveTimeout` (fastify, default 72 s; Node's own 5 s): an idle kept-alive socket closes.
 * - `maxRequestsPerSocket` (fastify → Node `server.maxRequestsPerSocket`, default none).
 * - `bodyLimit` (fastify, default 1 MiB): largest request body; routes may set their own.
 * - `maxConnections` (Node `net.Server.maxConnections`): beyond it new sockets are dropped.
 * - Headers are bounded by Node's `maxHeaderSize` default (16 KiB, then 431) and
 *   `maxHeadersCount` (2000), left as they are.
 */
import type { Server, ServerOptions } from "node:http";
import type { Socket } from "node:net";
import type { NetbootEvents } from "../events.js";

export interface HttpLimits {
  /** Idle socket, no byte either way. */
  readonly connectionTimeoutMs: number;
  /** Whole request (headers and body) received. */
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxRequestsPerSocket: number;
  readonly bodyLimitBytes: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  /** A file response whose client takes no chunk for this long is cut (file-pump.ts). */
  readonly writeTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  connectionTimeoutMs: 30_000,
  // Boot clients send a GET line and a few headers; the largest body is an installer's facts.
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  // Node's own default; iPXE fetches kernel and initrd back to back, well within it.
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 100,
  // Boot routes take no body; callers' routes (metal's callback API) set their own bodyLimit.
  bodyLimitBytes: 64 * 1024,
  // Well under the usual 1024 open files, with room for the files being served.
  maxConnections: 512,
  // A machine fetches its script, kernel and initrd over one or two connections at a time.
  maxConnectionsPerAddress: 16,
  // Per chunk (ADR 0360): at 1 MiB a client slower than ~34 KiB/s is cut, at 64 KiB one slower
  // than ~2 KiB/s: none that boots is that slow.
  writeTimeoutMs: 30_000,
};

/** How often Node checks incomplete requests against requestTimeout and headersTimeout. */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;

/** The fastify factory options that carry the limits. */
export function fastifyLimitOptions(limits: HttpLimits) {
  const http: ServerOptions = {
    // Node refuses headersTimeout > requestTimeout at createServer (ERR_OUT_OF_RANGE), but
    // fastify sets requestTimeout only after creating the server, and with the pair that way
    // round Node 20 enforced neither timeout on a trickled body (measured): keep the order.
    headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  };
  return {
    http,
    connectionTimeout: limits.connectionTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    bodyLimit: limits.bodyLimitBytes,
  };
}

/**
 * Caps the server's connections overall (Node's maxConnections) and per client address (a
 * count kept here): a socket beyond the cap is destroyed before any byte is read.
 */
export function capConnections(server: Server, limits: HttpLimits, events: NetbootEvents): void {
  server.maxConnections = limits.maxConnections;
  const open = new Map<string, number>();
  server.on("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "";
    const count = open.get(address) ?? 0;
    if (count >= limits.maxConnectionsPerAddress) {
      socket.destroy();
      events.emit({
        type: "server.error",
        server: "http",
        error: `refused a connection from ${address}: ${count} open (limit ${limits.maxConnectionsPerAddress} per address)`,
      });
      return;
    }
    open.set(address, count + 1);
    socket.once("close", () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
