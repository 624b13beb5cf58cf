/**
 * Builds a gzip'd newc initramfs for lab machines from a spec: busybox-static with its applet
 * links, kernel modules, the caller's script behind a PID 1 guard, extra files, and optionally
 * Debian's dropbear with the libraries `ldd` names. Same spec, same bytes (except a generated
 * SSH host key): sorted entries, one timestamp (SOURCE_DATE_EPOCH), gzip without a name or time.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { ImageFile } from "./arm64.js";
import { encodeCpio, type CpioEntry } from "./cpio.js";
import { LabConfigError } from "./errors.js";
import { runTool } from "./host-tool.js";
import {
  DROPBEAR_HOST_KEY_PATH,
  LAB_SCRIPT_PATH,
  MODULE_DIRECTORY,
  PID1_WRAPPER,
  UDHCPC_SCRIPT,
  UDHCPC_SCRIPT_PATH,
} from "./init-script.js";
import type { KernelModule } from "./kernel.js";

export interface ExtraFile {
  /** Absolute path inside the initramfs. */
  readonly path: string;
  readonly content: string | Uint8Array;
  readonly mode?: number;
}

export interface DropbearSpec {
  /** Lines for /root/.ssh/authorized_keys. */
  readonly authorizedKeys: readonly string[];
  /** A dropbear-format ed25519 host key; generated with dropbearkey when absent. */
  readonly hostKey?: Uint8Array;
  /**
   * dropbear (at /usr/sbin/dropbear), its libraries and loader, and any companion program, as
   * (path inside, file here). Default: this host's dropbear and the libraries `ldd` names; an
   * arm64 initramfs takes fetchDropbearArm64()'s files.
   */
  readonly programs?: readonly ImageFile[];
}

export interface InitramfsSpec {
  /** The script /init runs (start it with initPreamble()); it runs as a child of PID 1. */
  readonly script: string;
  readonly modules?: readonly KernelModule[];
  readonly files?: readonly ExtraFile[];
  readonly dropbear?: DropbearSpec;
  /** busybox-static binary (default /bin/busybox). */
  readonly busybox?: string;
  /**
   * A busybox that runs here and lists the applets to link (default: `busybox` itself). An arm64
   * busybox cannot run on an x86 host: list with the host's busybox of the same Debian version.
   */
  readonly appletLister?: string;
  /** Timestamp of every entry (default $SOURCE_DATE_EPOCH, else 0). */
  readonly mtimeSeconds?: number;
}

export interface BuiltInitramfs {
  readonly path: string;
  /** The SSH host public key in OpenSSH form ("ssh-ed25519 AAAA…"), when dropbear is in. */
  readonly sshHostPublicKey?: string;
}

const DEFAULT_BUSYBOX = "/bin/busybox";
const DROPBEAR_BINARY = "/usr/sbin/dropbear";
const EXECUTABLE_MODE = 0o755;
const SECRET_MODE = 0o600;
const PRIVATE_DIRECTORY_MODE = 0o700;
const CONSOLE_DEVICE = { major: 5, minor: 1 };
const NULL_DEVICE = { major: 1, minor: 3 };
/** gzip header byte 9: "Unix", whatever host zlib thinks, so output does not vary by OS. */
const GZIP_OS_OFFSET = 9;
const GZIP_OS_UNIX = 3;

export async function buildInitramfs(
  spec: InitramfsSpec,
  outputPath: string,
): Promise<BuiltInitramfs> {
  const entries: CpioEntry[] = [
    ...baseEntries(),
    ...(await busyboxEntries(
      spec.busybox ?? DEFAULT_BUSYBOX,
      spec.appletLister ?? spec.busybox ?? DEFAULT_BUSYBOX,
    )),
    { path: "/init", type: "file", data: Buffer.from(PID1_WRAPPER), mode: EXECUTABLE_MODE },
    { path: LAB_SCRIPT_PATH, type: "file", data: Buffer.from(spec.script), mode: EXECUTABLE_MODE },
    {
      path: UDHCPC_SCRIPT_PATH,
      type: "file",
      data: Buffer.from(UDHCPC_SCRIPT),
      mode: EXECUTABLE_MODE,
    },
  ];
  for (const module of spec.modules ?? [])
    entries.push({
      path: `${MODULE_DIRECTORY}/${module.name}.ko`,
      type: "file",
      data: await readFile(module.path),
    });
  let sshHostPublicKey: string | undefined;
  if (spec.dropbear) {
    const dropbear = await dropbearEntries(spec.dropbear);
    entries.push(...dropbear.entries);
    sshHostPublicKey = dropbear.publicKey;
  }
  for (const file of spec.files ?? [])
    entries.push({
      path: file.path,
      type: "file",
      data: typeof file.content === "string" ? Buffer.from(file.content) : file.content,
      mode: file.mode ?? 0o644,
    });
  const archive = encodeCpio(entries, spec.mtimeSeconds ?? sourceDateEpoch());
  const compressed = gzipSync(archive);
  compressed[GZIP_OS_OFFSET] = GZIP_OS_UNIX;
  await writeFile(outputPath, compressed);
  return sshHostPublicKey === undefined
    ? { path: outputPath }
    : { path: outputPath, sshHostPublicKey };
}

function sourceDateEpoch(): number {
  const value = process.env.SOURCE_DATE_EPOCH;
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value))
    throw new LabConfigError(`SOURCE_DATE_EPOCH=${value} is not a whole number of seconds`);
  return Number(value);
}

function baseEntries(): CpioEntry[] {
  return [
    // The kernel opens /dev/console for /init's stdio before anything can mount devtmpfs.
    { path: "/dev/console", type: "char-device", ...CONSOLE_DEVICE },
    { path: "/dev/null", type: "char-device", ...NULL_DEVICE, mode: 0o666 },
    ...["/proc", "/sys", "/run", "/tmp", "/etc", "/lib/modules", "/root"].map(
      (path): CpioEntry => ({ path, type: "directory" }),
    ),
    { path: "/etc/passwd", type: "file", data: Buffer.from("root:x:0:0:root:/root:/bin/sh\n") },
    { path: "/etc/group", type: "file", data: Buffer.from("root:x:0:\n") },
    { path: "/etc/shells", type: "file", data: Buffer.from("/bin/sh\n") },
  ];
}

async function busyboxEntries(busybox: string, lister: string): Promise<CpioEntry[]> {
  const applets = (await runTool(lister, ["--list-full"])).split("\n").filter(Boolean);
  return [
    { path: "/bin/busybox", type: "file", data: await readFile(busybox), mode: EXECUTABLE_MODE },
    ...applets
      .filter((applet) => applet !== "bin/busybox")
      .map((applet): CpioEntry => ({ path: applet, type: "symlink", target: "/bin/busybox" })),
  ];
}

/** Shared libraries of a dynamically linked binary, as `ldd` resolves them on this host. */
export function parseLddOutput(output: string): string[] {
  const libraries: string[] = [];
  for (const line of output.split("\n")) {
    const match = /(?:=>\s+)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match?.[1]) libraries.push(match[1]);
  }
  return libraries;
}

/** This host's dropbear and the libraries `ldd` resolves for it, at the same paths. */
async function hostDropbear(): Promise<ImageFile[]> {
  const libraries = parseLddOutput(await runTool("ldd", [DROPBEAR_BINARY]));
  return [DROPBEAR_BINARY, ...libraries].map((path) => ({ path, source: path }));
}

async function dropbearEntries(
  spec: DropbearSpec,
): Promise<{ entries: CpioEntry[]; publicKey: string }> {
  const programs = spec.programs ?? (await hostDropbear());
  const scratch = await mkdtemp(join(tmpdir(), "metal-lab-dropbear-"));
  try {
    const keyPath = join(scratch, "host_key");
    if (spec.hostKey) await writeFile(keyPath, spec.hostKey, { mode: SECRET_MODE });
    else await runTool("dropbearkey", ["-t", "ed25519", "-f", keyPath]);
    const publicKey = /^ssh-\S+ \S+/m.exec(await runTool("dropbearkey", ["-y", "-f", keyPath]));
    if (!publicKey)
      throw new LabConfigError(
        "dropbearkey printed no public key for the SSH host key; pass a dropbear-format ed25519 key",
      );
    const entries: CpioEntry[] = [
      ...(await Promise.all(
        programs.map(async (file): Promise<CpioEntry> => ({
          path: file.path,
          type: "file",
          data: await readFile(file.source),
          mode: EXECUTABLE_MODE,
        })),
      )),
      { path: "/etc/dropbear", type: "directory", mode: PRIVATE_DIRECTORY_MODE },
      {
        path: DROPBEAR_HOST_KEY_PATH,
        type: "file",
        data: await readFile(keyPath),
        mode: SECRET_MODE,
      },
      // dropbear refuses keys in a group- or world-writable home or .ssh.
      { path: "/root", type: "directory", mode: PRIVATE_DIRECTORY_MODE },
      { path: "/root/.ssh", type: "directory", mode: PRIVATE_DIRECTORY_MODE },
      {
        path: "/root/.ssh/authorized_keys",
        type: "file",
        data: Buffer.from(spec.authorizedKeys.map((key) => `${key.trim()}\n`).join("")),
        mode: SECRET_MODE,
      },
    ];
    return { entries, publicKey: publicKey[0] };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
