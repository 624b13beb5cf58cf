/**
 * One file response: @fastify/send does Range, HEAD, conditional requests and Content-Length
 * and hands back a read stream, which fastify pipes into the socket with back-pressure, so a
 * response holds at most a few chunks in memory whatever the file size. This module adds the
 * start/end events with the bytes that really left.
 */
import { ReadStream } from "node:fs";
import path from "node:path";
import send from "@fastify/send";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { NetbootEvents } from "../events.js";
import type { Mac } from "../mac.js";

export interface FileResponseContext {
  readonly events: NetbootEvents;
  /** Read chunk size: larger chunks mean fewer reads and writes per GiB. */
  readonly highWaterMark: number;
  readonly mac: Mac | undefined;
}

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
    highWaterMark: context.highWaterMark,
  });
  const { stream, statusCode, headers } = result;
  const size = result.type === "file" ? result.metadata.stat.size : 0;
  const bodyBytes = request.method === "HEAD" ? 0 : Number(headers["Content-Length"] ?? 0);
  const common = { mac: context.mac, peer: request.ip, path: filePath };
  context.events.emit({ type: "http.file.start", ...common, bytes: bodyBytes, size });

  const response = reply.raw;
  let complete = false;
  response.once("finish", () => (complete = true));
  response.once("close", () => {
    context.events.emit({
      type: "http.file.end",
      ...common,
      status: statusCode,
      bytes: bytesSent(stream, complete, bodyBytes, response.writableLength),
      durationMs: performance.now() - startedAt,
      complete,
    });
  });
  return reply.code(statusCode).headers(headers).send(stream);
}

/**
 * What left for the client. A finished response carried its whole Content-Length; one cut short
 * carried what was read from the file minus what still sat in the stream's and the response's
 * buffers (error pages that are not file streams count as nothing then).
 */
function bytesSent(
  stream: NodeJS.ReadableStream,
  complete: boolean,
  bodyBytes: number,
  bufferedInResponse: number,
): number {
  if (complete) return bodyBytes;
  if (!(stream instanceof ReadStream)) return 0;
  return Math.max(0, stream.bytesRead - stream.readableLength - bufferedInResponse);
}
