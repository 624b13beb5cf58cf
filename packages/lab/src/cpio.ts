/**
 * A pure writer for the "newc" cpio format the Linux kernel unpacks as an initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst). Entries come out sorted by
 * path with every parent directory first, all owned by root with one timestamp, so the same
 * entries always give the same bytes.
 */
import { LabConfigError } from "./errors.js";

export type CpioEntry =
  | { readonly path: string; readonly type: "directory"; readonly mode?: number }
  | {
      readonly path: string;
      readonly type: "file";
      readonly data: Uint8Array;
      readonly mode?: number;
    }
  | { readonly path: string; readonly type: "symlink"; readonly target: string }
  | {
      readonly path: string;
      readonly type: "char-device";
      readonly major: number;
      readonly minor: number;
      readonly mode?: number;
    };

const MAGIC = "070701";
const FIELD_HEX_DIGITS = 8;
const ALIGNMENT = 4;
const TRAILER = "TRAILER!!!";

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const DEFAULT_DIRECTORY_MODE = 0o755;
const DEFAULT_FILE_MODE = 0o644;
const SYMLINK_MODE = 0o777;
const DEFAULT_DEVICE_MODE = 0o600;

/** Normalises "/bin/sh" and "bin/sh/" to "bin/sh"; refuses empty, "." and ".." segments. */
export function normaliseArchivePath(path: string): string {
  const segments = path.split("/").filter((segment) => segment !== "");
  if (segments.length === 0 || segments.some((segment) => segment === "." || segment === ".."))
    throw new LabConfigError(
      `initramfs path ${JSON.stringify(path)} is not a plain absolute path (e.g. /etc/hosts)`,
    );
  return segments.join("/");
}

/** The entries in archive order: parents added and first, sorted, later duplicates winning. */
export function orderEntries(entries: readonly CpioEntry[]): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  for (const entry of entries) {
    const path = normaliseArchivePath(entry.path);
    const segments = path.split("/");
    for (let depth = 1; depth < segments.length; depth++) {
      const parent = segments.slice(0, depth).join("/");
      if (!byPath.has(parent)) byPath.set(parent, { path: parent, type: "directory" });
    }
    byPath.set(path, { ...entry, path });
  }
  return [...byPath.values()].sort((a, b) => compareByteOrder(a.path, b.path));
}

function compareByteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Encodes the entries (ordered by orderEntries) followed by the trailer. */
export function encodeCpio(entries: readonly CpioEntry[], mtimeSeconds: number): Buffer {
  const chunks: Buffer[] = [];
  let inode = 1;
  for (const entry of orderEntries(entries)) {
    const { mode, data, rdevMajor, rdevMinor } = describe(entry);
    chunks.push(
      record(entry.path, {
        inode: inode++,
        mode,
        mtimeSeconds,
        data,
        nlink: entry.type === "directory" ? 2 : 1,
        rdevMajor,
        rdevMinor,
      }),
    );
  }
  chunks.push(
    record(TRAILER, {
      inode: 0,
      mode: 0,
      mtimeSeconds: 0,
      data: Buffer.alloc(0),
      nlink: 1,
      rdevMajor: 0,
      rdevMinor: 0,
    }),
  );
  return Buffer.concat(chunks);
}

function describe(entry: CpioEntry): {
  mode: number;
  data: Uint8Array;
  rdevMajor: number;
  rdevMinor: number;
} {
  const none = new Uint8Array(0);
  switch (entry.type) {
    case "directory":
      return {
        mode: S_IFDIR | (entry.mode ?? DEFAULT_DIRECTORY_MODE),
        data: none,
        rdevMajor: 0,
        rdevMinor: 0,
      };
    case "file":
      return {
        mode: S_IFREG | (entry.mode ?? DEFAULT_FILE_MODE),
        data: entry.data,
        rdevMajor: 0,
        rdevMinor: 0,
      };
    case "symlink":
      return {
        mode: S_IFLNK | SYMLINK_MODE,
        data: Buffer.from(entry.target),
        rdevMajor: 0,
        rdevMinor: 0,
      };
    case "char-device":
      return {
        mode: S_IFCHR | (entry.mode ?? DEFAULT_DEVICE_MODE),
        data: none,
        rdevMajor: entry.major,
        rdevMinor: entry.minor,
      };
  }
}

function record(
  name: string,
  fields: {
    inode: number;
    mode: number;
    mtimeSeconds: number;
    data: Uint8Array;
    nlink: number;
    rdevMajor: number;
    rdevMinor: number;
  },
): Buffer {
  const nameBytes = Buffer.from(`${name}\0`);
  const values = [
    fields.inode,
    fields.mode,
    0, // uid: root
    0, // gid: root
    fields.nlink,
    fields.mtimeSeconds,
    fields.data.length,
    0, // devmajor
    0, // devminor
    fields.rdevMajor,
    fields.rdevMinor,
    nameBytes.length,
    0, // check: unused by newc (only the "crc" format 070702 fills it)
  ];
  const header = Buffer.from(
    MAGIC + values.map((value) => value.toString(16).padStart(FIELD_HEX_DIGITS, "0")).join(""),
  );
  const namePart = pad(Buffer.concat([header, nameBytes]));
  return Buffer.concat([namePart, pad(Buffer.from(fields.data))]);
}

function pad(bytes: Buffer): Buffer {
  const remainder = bytes.length % ALIGNMENT;
  return remainder === 0 ? bytes : Buffer.concat([bytes, Buffer.alloc(ALIGNMENT - remainder)]);
}
