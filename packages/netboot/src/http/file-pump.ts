/**
 * Copies a byte range of a file into an HTTP response through two buffers that are reused for
 * the whole response: one is filled from disk while the other is in the socket. A buffer is
 * refilled only after the socket took all of it (the write callback), so a response holds
 * exactly two chunks whatever the file size and the client's speed, and streaming a GiB makes
 * no garbage for the collector. (fs.createReadStream allocates a fresh chunk per read; with
 * eight fast clients the dead chunks piled up to ~64 MiB between collections, and the
 * allocation cost halved throughput: see docs/decisions/0030-http-server-library.md.)
 */
import { open } from "node:fs/promises";
import type { ServerResponse } from "node:http";

/** One buffer in the socket, one being read: disk and network work at the same time. */
const BUFFERS_PER_RESPONSE = 2;

export interface ByteRange {
  readonly start: number;
  readonly length: number;
}

/**
 * Writes `range` of `filePath` to `response` (whose headers the caller wrote) and ends it.
 * `onSent` hears each chunk the socket accepted. Stops quietly when the client goes away;
 * throws (leaving the response to the caller) when the file cannot be read or has shrunk.
 */
export async function pumpFileRange(
  response: ServerResponse,
  filePath: string,
  range: ByteRange,
  chunkBytes: number,
  onSent: (bytes: number) => void,
): Promise<void> {
  const file = await open(filePath, "r");
  const bufferBytes = Math.max(1, Math.min(chunkBytes, range.length));
  const free: Buffer[] = Array.from({ length: BUFFERS_PER_RESPONSE }, () =>
    Buffer.allocUnsafe(bufferBytes),
  );
  let wake: () => void = () => {};
  const onClose = () => wake();
  response.once("close", onClose);

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
      if (!buffer) return;
      const wanted = Math.min(buffer.length, end - position);
      const { bytesRead } = await file.read(buffer, 0, wanted, position);
      if (bytesRead === 0) {
        throw new Error(`${filePath} ended at byte ${position}, before the ${end} announced`);
      }
      position += bytesRead;
      response.write(buffer.subarray(0, bytesRead), (error) => {
        if (!error) onSent(bytesRead);
        free.push(buffer);
        wake();
      });
    }
    response.end();
  } finally {
    response.off("close", onClose);
    await file.close();
  }
}
