/**
 * Where the bytes of a read request come from. The server asks a `TftpFileSource` (shaped like
 * danderson/netboot's `tftp.Handler(path, clientAddr) → file, size`, tftp/tftp.go) and serves
 * what it returns; the default, `rootedFileSource`, opens files under one directory through
 * `resolveUnderRoot`, the library's one security boundary for client-named paths. A `FileSource`
 * reads at positions, so only a window is ever in memory.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { resolveUnderRoot } from "../rooted-path.js";
import type { BlockSource } from "./transfer.js";

export interface FileSource extends BlockSource {
  close(): Promise<void>;
}

/** The client a read request came from (its transfer ID). */
export interface TftpPeer {
  readonly address: string;
  readonly port: number;
}

/**
 * Opens what a read request names, for that client. Throw a PathRefusedError to refuse: with
 * `notFound` the client gets ERROR 1 (file not found), otherwise ERROR 2 (access violation).
 * Any other error is answered as an access violation too, its message kept for the event.
 */
export type TftpFileSource = (path: string, peer: TftpPeer) => Promise<FileSource>;

/** The files under `root`, every path resolved by `resolveUnderRoot`. */
export function rootedFileSource(root: string): TftpFileSource {
  return async (requested) => openFileSource((await resolveUnderRoot(root, requested)).path);
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
