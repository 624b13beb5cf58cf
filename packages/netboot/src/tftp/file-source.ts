/** A BlockSource over an open file: positioned reads, so only a window is ever in memory. */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import type { BlockSource } from "./transfer.js";

export interface FileSource extends BlockSource {
  close(): Promise<void>;
}

export async function openFileSource(path: string): Promise<FileSource> {
  const handle: FileHandle = await open(path, "r");
  try {
    // Size from the open descriptor, so a file replaced after path resolution is measured as read.
    const { size } = await handle.stat();
    return {
      size,
      read: (position, length) => readFully(handle, position, length),
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

async function readFully(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}
