/**
 * One file response. @fastify/send decides it (Range, HEAD, conditional requests, status and
 * headers with Content-Length); a body of file bytes is then copied by file-pump.ts, which keeps
 * memory flat whatever the file size, and every other answer (HEAD, 304, 416, …) goes through
 * fastify as send built it. Emits http.file.start / http.file.end with the bytes that left.
 *
 * File bodies bypass fastify's reply (`reply.hijack()`), so fastify's onSend and onResponse
 * hooks do not see them; the events are how callers observe file transfers.
 */
import { ReadStream } from "node:fs";
import path from "node:path";
import send from "@fastify/send";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { NetbootEvents } from "../events.js";
import type { Mac } from "../mac.js";
import type { ChunkBudget } from "./chunk-budget.js";
import { pumpFileRange, type ByteRange } from "./file-pump.js";

export interface FileResponseContext {
  readonly events: NetbootEvents;
  /** Sizes each response's reads and socket writes from the number of responses at once. */
  readonly chunks: ChunkBudget;
  /** A client that takes no chunk for this long is cut off (see file-pump.ts). */
  readonly writeTimeoutMs: number;
  readonly mac: Mac | undefined;
}

const HTTP_OK = 200;
const HTTP_PARTIAL_CONTENT = 206;
const CONTENT_RANGE = /^bytes (\d+)-(\d+)\//;

export async function sendFile(
  request: FastifyRequest,
  reply: FastifyReply,
  filePath: string,
  context: FileResponseContext,
): Promise<FastifyReply> {
  const startedAt = performance.now();
  const result = await send(request.raw, `/${encodeURIComponent(path.basename(filePath))}`, {
    root: path.dirname(filePath),
    dotfiles: "allow",
    index: false,
    // Boot files may be rebuilt between attempts; ETag and Last-Modified still allow revalidation.
    cacheControl: false,
  });
  const { stream, statusCode, headers } = result;
  const size = result.type === "file" ? result.metadata.stat.size : 0;
  const bodyBytes = request.method === "HEAD" ? 0 : Number(headers["Content-Length"] ?? 0);
  const common = { mac: context.mac, peer: request.ip, path: filePath };
  context.events.emit({ type: "http.file.start", ...common, bytes: bodyBytes, size });

  const response = reply.raw;
  let sent = 0;
  let finished = false;
  response.once("finish", () => (finished = true));
  response.once("close", () => {
    context.events.emit({
      type: "http.file.end",
      ...common,
      status: statusCode,
      bytes: finished ? bodyBytes : sent,
      durationMs: performance.now() - startedAt,
      complete: finished,
    });
  });

  const range = stream instanceof ReadStream ? fileBodyRange(statusCode, headers) : undefined;
  if (!range) return reply.code(statusCode).headers(headers).send(stream);

  // send opened a read stream for the body; file-pump reads the file itself.
  stream.destroy();
  reply.hijack();
  response.writeHead(statusCode, headers);
  const share = context.chunks.open();
  try {
    await pumpFileRange(response, filePath, range, {
      chunkBytes: share.chunkBytes,
      writeTimeoutMs: context.writeTimeoutMs,
      onSent: (bytes) => (sent += bytes),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    context.events.emit({
      type: "server.error",
      server: "http",
      error: `${request.ip}: ${message}`,
    });
    // Headers are out: cutting the connection is the only way left to say "incomplete".
    response.destroy();
  } finally {
    share.release();
  }
  return reply;
}

/** The bytes of the file a 200 or 206 answer from send carries. */
function fileBodyRange(status: number, headers: Record<string, string>): ByteRange | undefined {
  const length = Number(headers["Content-Length"]);
  if (status === HTTP_OK) return { start: 0, length };
  const match = CONTENT_RANGE.exec(headers["Content-Range"] ?? "");
  if (status !== HTTP_PARTIAL_CONTENT || !match) return undefined;
  return { start: Number(match[1]), length };
}
