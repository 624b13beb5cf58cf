/**
 * Runs the host tools the lab is built from (apt-get, dpkg, mkfs.vfat, sfdisk, objcopy…) and
 * turns "not installed" and "failed" into one typed error that says which Debian package to get.
 */
import { execa, ExecaError, type Options } from "execa";
import { HostToolError } from "./errors.js";

/** Debian package that ships each tool, for the error message's fix. */
const PACKAGE_OF: Readonly<Record<string, string>> = {
  "apt-get": "apt",
  "apt-cache": "apt",
  "dpkg-deb": "dpkg",
  xz: "xz-utils",
  zstd: "zstd",
  busybox: "busybox-static",
  dropbearkey: "dropbear-bin",
  ldd: "libc-bin",
  "mkfs.vfat": "dosfstools",
  mcopy: "mtools",
  mmd: "mtools",
  syslinux: "syslinux",
  sfdisk: "fdisk",
  objcopy: "binutils",
  objdump: "binutils",
  readelf: "binutils",
  "aarch64-linux-gnu-objcopy": "binutils-aarch64-linux-gnu",
  "aarch64-linux-gnu-objdump": "binutils-aarch64-linux-gnu",
  "qemu-system-x86_64": "qemu-system-x86",
  "qemu-system-aarch64": "qemu-system-arm",
  "grub-mkimage": "grub-common",
  dnsmasq: "dnsmasq-base",
};

const STDERR_TAIL_CHARS = 2000;

/** Runs `tool args…` and returns its stdout; throws HostToolError naming the fix on failure. */
export async function runTool(
  tool: string,
  args: readonly string[],
  options: Options = {},
): Promise<string> {
  try {
    // LC_ALL=C: callers parse the output (readelf's "Shared library: [...]", apt-cache), and
    // those texts are translated under other locales ("Shared library: [%s]" is a message of
    // Debian's binutils.mo catalogs, Ukrainian among them).
    const result = await execa(tool, args, {
      ...options,
      env: { ...options.env, LC_ALL: "C" },
      stripFinalNewline: true,
    });
    return typeof result.stdout === "string" ? result.stdout : "";
  } catch (error) {
    if (!(error instanceof ExecaError)) throw error;
    const debianPackage = PACKAGE_OF[tool] ?? tool;
    if (error.code === "ENOENT")
      throw new HostToolError(
        tool,
        "is not installed",
        `Install it with \`apt-get install ${debianPackage}\` (or run scripts/bootstrap.sh)`,
      );
    const stderr = String(error.stderr ?? "").slice(-STDERR_TAIL_CHARS);
    throw new HostToolError(
      tool,
      `\`${tool} ${args.join(" ")}\` failed (${error.shortMessage.split("\n")[0]})${stderr ? `:\n${stderr}` : ""}`,
      "See the output above; re-running scripts/bootstrap.sh repairs missing host packages",
    );
  }
}
