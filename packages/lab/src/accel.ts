/**
 * Chooses KVM or TCG at run time. /dev/kvm existing is not enough: on nested hosts it runs
 * SeaBIOS yet hangs Linux (LAB-NOTES), so the probe boots the lab kernel with no root under
 * KVM and expects its "Kernel panic" on the serial console quickly. The answer is cached per
 * host kernel, QEMU and guest kernel; METAL_LAB_ACCEL=kvm|tcg skips the probe.
 */
import { execa } from "execa";
import { access, constants, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import { LabConfigError } from "./errors.js";
import { runTool } from "./host-tool.js";

export type Accelerator = "kvm" | "tcg";

const QEMU = "qemu-system-x86_64";
/** A working KVM reaches the panic in ~1 s; TCG would need ~5 s, a broken KVM never does. */
const PROBE_TIMEOUT_MS = 10_000;
const PROBE_MEMORY_MIB = 128;
const PROBE_PANIC = "Kernel panic";

export interface AcceleratorProbeOptions {
  /** A bzImage to boot for the probe (LabKernel.vmlinuz). */
  readonly kernel: string;
  /** Where the probe's answer is remembered. */
  readonly cacheDir: string;
}

export async function chooseAccelerator(options: AcceleratorProbeOptions): Promise<Accelerator> {
  const forced = process.env.METAL_LAB_ACCEL;
  if (forced !== undefined) {
    if (forced !== "kvm" && forced !== "tcg")
      throw new LabConfigError(`METAL_LAB_ACCEL=${forced}: use kvm or tcg, or unset it to probe`);
    return forced;
  }
  try {
    await access("/dev/kvm", constants.R_OK | constants.W_OK);
  } catch {
    return "tcg";
  }
  const qemuVersion = (await runTool(QEMU, ["--version"])).split("\n")[0] ?? "";
  const key = `${release()} ${qemuVersion} ${options.kernel}`;
  const cacheFile = join(options.cacheDir, "accelerator.json");
  const cached = await readCache(cacheFile);
  if (cached?.key === key) return cached.accelerator;
  const accelerator: Accelerator = (await kvmBootsLinux(options.kernel)) ? "kvm" : "tcg";
  await mkdir(options.cacheDir, { recursive: true });
  await writeFile(cacheFile, JSON.stringify({ key, accelerator }));
  return accelerator;
}

async function readCache(
  path: string,
): Promise<{ key: string; accelerator: Accelerator } | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as { key: string; accelerator: Accelerator };
  } catch {
    return undefined;
  }
}

async function kvmBootsLinux(kernel: string): Promise<boolean> {
  const scratch = await mkdtemp(join(tmpdir(), "metal-lab-kvm-probe-"));
  const serial = join(scratch, "serial.log");
  try {
    await execa(
      QEMU,
      [
        "-accel",
        "kvm",
        "-m",
        String(PROBE_MEMORY_MIB),
        "-display",
        "none",
        "-vga",
        "none",
        "-monitor",
        "none",
        "-nic",
        "none",
        "-no-reboot",
        "-serial",
        `file:${serial}`,
        "-kernel",
        kernel,
        "-append",
        "console=ttyS0 panic=-1",
      ],
      { timeout: PROBE_TIMEOUT_MS, reject: false },
    );
    return (await readFile(serial, "utf8").catch(() => "")).includes(PROBE_PANIC);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
