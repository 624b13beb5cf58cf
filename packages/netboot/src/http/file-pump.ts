/**
 * Copies a byte range of a file into an HTTP response through two buffers that are reused for
 * the whole response: one is filled from disk while the other is in the socket. A buffer is
 * refilled only after the socket took all of it (the write callback), so a response holds
 * exactly two chunks whatever the file size and the client's speed, and streaming a GiB makes
 * no garbage for the collector. (fs.createReadStream allocates a fresh chunk per read; with
 * eight fast clients the dead chunks piled up to ~64 MiB between collections, and the
 * allocation cost halved throughput: see docs/decisions/0030-http-server-library.md.)
 *
 * A client that stops reading would keep the response, its two buffers and the open file
 * forever: a chunk the socket has not taken within `writeTimeoutMs` ends the response.
 */
import { open } from "node:fs/promises";
import type { ServerResponse } from "node:http";

/** One buffer in the socket, one being read: disk and network work at the same time. */
export const BUFFERS_PER_RESPONSE = 2;

export interface ByteRange {
  readonly start: number;
  readonly length: number;
}

export interface PumpOptions {
  /** Bytes per read and per socket write (the server sizes it: chunk-budget.ts). */
  readonly chunkBytes: number;
  /** Longest the socket may take to accept one chunk before the response is destroyed. */
  readonly writeTimeoutMs: number;
  /** Hears each chunk the socket accepted. */
  readonly onSent: (bytes: number) => void;
}

/** Thrown when a client took no chunk within the write timeout; the response is destroyed. */
export class WriteTimeoutError extends Error {
  override name = "WriteTimeoutError";
}

/**
 * Writes `range` of `filePath` to `response` (whose headers the caller wrote) and ends it.
 * Stops quietly when the client goes away; throws (leaving the response to the caller) when the
 * file cannot be read or has shrunk, and a WriteTimeoutError (the response already destroyed)
 * when the client stopped taking bytes.
 */
export async function pumpFileRange(
  response: ServerResponse,
  filePath: string,
  range: ByteRange,
  { chunkBytes, writeTimeoutMs, onSent }: PumpOptions,
): Promise<void> {
  const file = await open(filePath, "r");
  const bufferBytes = Math.max(1, Math.min(chunkBytes, range.length));
  const free: Buffer[] = Array.from({ length: BUFFERS_PER_RESPONSE }, () =>
    Buffer.allocUnsafe(bufferBytes),
  );
  let wake: () => void = () => {};
  const onClose = () => wake();
  response.once("close", onClose);
  let stalled = false;

  async function takeFreeBuffer(): Promise<Buffer | undefined> {
    while (free.length === 0 && !response.destroyed) {
      await new Promise<void>((resolve) => (wake = resolve));
    }
    return response.destroyed ? undefined : free.pop();
  }

  try {
    const end = range.start + range.length;
    for (let position = range.start; position < end;) {
      const buffer = await takeFreeBuffer();
      if (!buffer) break;
      const wanted = Math.min(buffer.length, end - position);
      const { bytesRead } = await file.read(buffer, 0, wanted, position);
      if (bytesRead === 0) {
        throw new Error(`${filePath} ended at byte ${position}, before the ${end} announced`);
      }
      position += bytesRead;
      // Each write's own timer, cleared by its callback: also the last chunks, still in the
      // socket when this function returns, are bounded.
      const stall = setTimeout(() => {
        stalled = true;
        response.destroy();
      }, writeTimeoutMs);
      response.write(buffer.subarray(0, bytesRead), (error) => {
        clearTimeout(stall);
        if (!error) onSent(bytesRead);
        free.push(buffer);
        wake();
      });
    }
    if (!response.destroyed) response.end();
  } finally {
    response.off("close", onClose);
    await file.close();
  }
  if (stalled) throw new WriteTimeoutError(`the client took no bytes for ${writeTimeoutMs} ms`);
}
