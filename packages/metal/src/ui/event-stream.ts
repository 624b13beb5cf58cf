/**
 * GET /events: the dashboard's live feed as server-sent events (WHATWG HTML §9.2). A client gets
 * a `snapshot` first, then `host`, `unknown` (a delta) and `deploy` events, and a comment line as
 * heartbeat so proxies and the browser keep the connection open. EventSource reconnects by itself
 * (after `retry` ms) and gets a fresh snapshot, so nothing is lost across a reconnect.
 *
 * Each client has its own queue keyed by what an update replaces (a host card, one unknown MAC,
 * the deploy): a newer update for the same key replaces the queued one, and the queue is written
 * once per `coalesceMs`. A client that stops reading (its socket buffer full) gets nothing more
 * written while its queue keeps coalescing (bounded by the number of keys); one that stays
 * blocked for `slowClientMs`, or has more than MAX_BUFFERED_BYTES waiting, is disconnected: it
 * reconnects to a fresh snapshot when it reads again. Every string is escaped (escape.ts).
 */
import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import type { DashboardModel, DashboardUpdate } from "./dashboard-model.js";
import { escapeStrings, PAGE_TEXT } from "./escape.js";
import type { UnknownMachineStatus } from "../status/report.js";

export const HEARTBEAT_MS = 15_000;
export const RECONNECT_MS = 2_000;
export const COALESCE_MS = 100;
export const SLOW_CLIENT_MS = 10_000;
/** Above the largest snapshot we expect (a few hosts, the capped unknown list), far below harm. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export function sseMessage(event: string, data: unknown): string {
  // JSON has no raw newlines, so the payload is always a single `data:` line.
  return `event: ${event}\ndata: ${JSON.stringify(escapeStrings(data, PAGE_TEXT))}\n\n`;
}

export interface EventStreamOptions {
  readonly heartbeatMs?: number;
  readonly coalesceMs?: number;
  readonly slowClientMs?: number;
}

type Queued =
  | { readonly kind: "host" | "deploy"; readonly update: DashboardUpdate }
  | { readonly kind: "unknown"; readonly machine: UnknownMachineStatus | undefined };

function keyOf(update: DashboardUpdate): Array<[string, Queued]> {
  switch (update.kind) {
    case "host":
      return [[`host:${update.host.name}`, { kind: "host", update }]];
    case "deploy":
      return [["deploy", { kind: "deploy", update }]];
    case "unknown":
      return [
        ...update.machines.map((machine): [string, Queued] => [
          `unknown:${machine.mac}`,
          { kind: "unknown", machine },
        ]),
        ...update.removed.map((mac): [string, Queued] => [
          `unknown:${mac}`,
          { kind: "unknown", machine: undefined },
        ]),
      ];
  }
}

/** One connected page: its coalescing queue and its backpressure state. */
class Client {
  readonly #queue = new Map<string, Queued>();
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #blockedSince: number | undefined;

  constructor(
    private readonly response: ServerResponse,
    private readonly coalesceMs: number,
    private readonly slowClientMs: number,
    private readonly drop: () => void,
  ) {
    response.on("drain", () => {
      this.#blockedSince = undefined;
      this.#flush();
    });
  }

  enqueue(update: DashboardUpdate): void {
    for (const [key, queued] of keyOf(update)) {
      this.#queue.delete(key); // re-inserted last: the page applies updates in arrival order
      this.#queue.set(key, queued);
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, this.coalesceMs);
  }

  /** Writes `text` unless the client is too slow; false when it was dropped. */
  write(text: string): boolean {
    if (this.#checkSlow()) return false;
    if (!this.response.write(text)) this.#blockedSince ??= Date.now();
    return true;
  }

  subscribe(model: DashboardModel, heartbeatMs: number): void {
    this.#unsubscribe = model.updates.on((update) => this.enqueue(update));
    this.#heartbeat = setInterval(() => {
      if (this.#blockedSince === undefined) this.write(": heartbeat\n\n");
      else this.#checkSlow();
    }, heartbeatMs);
  }

  close(): void {
    clearTimeout(this.#timer);
    clearInterval(this.#heartbeat);
    this.#unsubscribe?.();
  }

  #checkSlow(): boolean {
    const blockedFor = this.#blockedSince === undefined ? 0 : Date.now() - this.#blockedSince;
    if (blockedFor < this.slowClientMs && this.response.writableLength <= MAX_BUFFERED_BYTES)
      return false;
    this.drop();
    return true;
  }

  #flush(): void {
    if (this.#queue.size === 0) return;
    if (this.#blockedSince !== undefined) {
      this.#checkSlow();
      return; // `drain` flushes
    }
    const machines: UnknownMachineStatus[] = [];
    const removed: string[] = [];
    const messages: string[] = [];
    for (const [key, queued] of this.#queue) {
      if (queued.kind !== "unknown") {
        const { kind, ...payload } = queued.update;
        messages.push(sseMessage(kind, payload));
      } else if (queued.machine) machines.push(queued.machine);
      else removed.push(key.slice("unknown:".length));
    }
    this.#queue.clear();
    if (machines.length > 0 || removed.length > 0)
      messages.push(sseMessage("unknown", { machines, removed }));
    this.write(messages.join(""));
  }
}

export function registerEventStream(
  app: FastifyInstance,
  model: DashboardModel,
  options: EventStreamOptions = {},
): void {
  const open = new Set<() => void>();
  app.addHook("preClose", async () => {
    for (const end of open) end();
  });
  app.get("/events", (request, reply) => {
    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    // A HEAD response has no body, and Node sends its headers only at end(): a stream kept
    // open would never answer, and hold a subscription until the client gives up.
    if (request.method === "HEAD") {
      response.end();
      return;
    }
    let ended = false;
    const end = (drop = false) => {
      if (ended) return;
      ended = true;
      client.close();
      open.delete(end);
      // A slow client's buffered bytes are thrown away, not flushed to it.
      if (drop) response.destroy();
      else response.end();
    };
    const client = new Client(
      response,
      options.coalesceMs ?? COALESCE_MS,
      options.slowClientMs ?? SLOW_CLIENT_MS,
      () => end(true),
    );
    client.write(`retry: ${RECONNECT_MS}\n\n`);
    client.write(sseMessage("snapshot", model.snapshot()));
    client.subscribe(model, options.heartbeatMs ?? HEARTBEAT_MS);
    open.add(end);
    request.raw.on("close", () => end());
  });
}
