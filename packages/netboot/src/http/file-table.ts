/**
 * The files the HTTP server may serve under /files/: exactly those a rendered boot script named.
 * A client sees an opaque id per absolute path, never the path itself, so no request can reach
 * a file the boot policy did not hand out.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { bootFilePath } from "../boot-urls.js";
import { ConfigError } from "../errors.js";

export interface BootFile {
  readonly id: string;
  /** Absolute path on this machine. */
  readonly path: string;
  /** A name safe in a URL, an iPXE image name and a kernel `initrd=` argument. */
  readonly name: string;
}

/** 64 bits of SHA-256: unguessable enough for an id that grants nothing by itself. */
const ID_HEX_DIGITS = 16;
const UNSAFE_NAME_CHARACTERS = /[^A-Za-z0-9._+-]/g;
const FALLBACK_NAME = "file";

export function bootFileUrlPath(file: BootFile): string {
  return bootFilePath(file.id, file.name);
}

export class BootFileTable {
  readonly #byId = new Map<string, BootFile>();

  /** Registers a file (idempotent: the same path always gets the same id and name). */
  register(absolutePath: string): BootFile {
    if (!path.isAbsolute(absolutePath)) {
      throw new ConfigError(
        `boot file ${JSON.stringify(absolutePath)} must be an absolute path (the boot policy ` +
          `names files on this machine)`,
      );
    }
    const normalized = path.normalize(absolutePath);
    const id = createHash("sha256").update(normalized).digest("hex").slice(0, ID_HEX_DIGITS);
    const known = this.#byId.get(id);
    if (known) return known;
    const name = path.basename(normalized).replace(UNSAFE_NAME_CHARACTERS, "_") || FALLBACK_NAME;
    const file: BootFile = { id, path: normalized, name };
    this.#byId.set(id, file);
    return file;
  }

  get(id: string): BootFile | undefined {
    return this.#byId.get(id);
  }
}
