/**
 * GET /events: the dashboard's live feed as server-sent events (WHATWG HTML §9.2). A client gets
 * a `snapshot` first, then one `host`, `unknown` or `deploy` event per change, and a comment line
 * as heartbeat so proxies and the browser keep the connection open. EventSource reconnects by
 * itself (after `retry` ms) and gets a fresh snapshot, so nothing is lost across a reconnect.
 */
import type { FastifyInstance } from "fastify";
import type { DashboardModel } from "./dashboard-model.js";

export const HEARTBEAT_MS = 15_000;
export const RECONNECT_MS = 2_000;

export function sseMessage(event: string, data: unknown): string {
  // JSON has no raw newlines, so the payload is always a single `data:` line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export interface EventStreamOptions {
  readonly heartbeatMs?: number;
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
    response.write(`retry: ${RECONNECT_MS}\n\n`);
    response.write(sseMessage("snapshot", model.snapshot()));
    const unsubscribe = model.updates.on((update) => {
      const { kind, ...payload } = update;
      response.write(sseMessage(kind, payload));
    });
    const heartbeat = setInterval(
      () => response.write(": heartbeat\n\n"),
      options.heartbeatMs ?? HEARTBEAT_MS,
    );
    const end = () => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(end);
      response.end();
    };
    open.add(end);
    request.raw.on("close", end);
  });
}
