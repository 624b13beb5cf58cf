/**
 * One QEMU machine of the lab: SeaBIOS or OVMF, a virtio NIC on a tap in the lab namespace, a
 * raw disk, serial console to a file. It is always started powered "off" (`-S`, QMP socket)
 * so that something (a test, the Wake-on-LAN gate) decides when it powers on.
 */
import { execa, type ResultPromise } from "execa";
import { copyFile, mkdir, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Accelerator } from "./accel.js";
import { LabConfigError, MachineExitedError, SerialTimeoutError } from "./errors.js";
import { QmpClient } from "./qmp.js";

/** SeaBIOS, OVMF (x86-64 UEFI), or AAVMF (arm64 UEFI on QEMU's `virt` machine). */
export type Firmware = "bios" | "uefi" | "uefi-arm64";

/**
 * "ipxe": QEMU's iPXE option ROM. "native": no ROM, the firmware's own PXE (OVMF, AAVMF).
 * "http": no ROM and OVMF's PXE switched off, so its UEFI HTTP boot (HttpBootDxe) is the only
 * network boot option (OVMF only; docs/http-boot.md).
 */
export type NicBoot = "ipxe" | "native" | "http";

/**
 * OVMF reads these fw_cfg files at boot to turn UEFI PXE over IPv4 / IPv6 off (edk2
 * OvmfPkg/Library/PxeBcPcdLib/PxeBcPcd.c: PcdIPv4PXESupport, PcdIPv6PXESupport); HttpBootDxe
 * stays, so "UEFI HTTPv4" is the first network boot option left.
 */
const OVMF_PXE_OFF = [
  "-fw_cfg",
  "name=opt/org.tianocore/IPv4PXESupport,string=n",
  "-fw_cfg",
  "name=opt/org.tianocore/IPv6PXESupport,string=n",
] as const;

export interface MachineSpec {
  readonly name: string;
  readonly firmware: Firmware;
  readonly mac: string;
  /** Directory for this machine's files: serial log, QMP socket, UEFI variables. */
  readonly workDir: string;
  /** Tap device (VirtualNetwork.addTap) and the namespace it lives in; no NIC when absent. */
  readonly network?: { readonly namespace: string; readonly tap: string };
  readonly nicBoot?: NicBoot;
  /** Raw disk image; boots first, falling through to the NIC while it is blank. */
  readonly disk?: string;
  /** The NIC before the disk in the boot order (a BMC's one-time PXE boot, ipmi-bmc.ts). */
  readonly networkFirst?: boolean;
  readonly memoryMiB?: number;
  /** SMBIOS system UUID (what PXE firmware sends as DHCP option 97); QEMU picks none without. */
  readonly uuid?: string;
  /**
   * Make a guest reboot or poweroff end QEMU (handy with `poweroff -f` as the end of a test).
   * Otherwise a guest poweroff leaves the machine "off", ready for powerOn() again.
   */
  readonly noReboot?: boolean;
  /**
   * A BMC powers this machine (ipmi-bmc.ts): QEMU is started running by the BMC, not held off
   * with -S behind QMP; it connects its IPMI device to the BMC's serial port at this TCP address.
   */
  readonly bmc?: { readonly host: string; readonly port: number };
  readonly accelerator: Accelerator;
}

/** Host firmware files (Debian packages ovmf, seabios via qemu-system-x86). */
export const FIRMWARE_FILES = {
  ovmfCode: "/usr/share/OVMF/OVMF_CODE_4M.fd",
  ovmfVars: "/usr/share/OVMF/OVMF_VARS_4M.fd",
  /** Debian's qemu-efi-aarch64, without Secure Boot (the .ms/.snakeoil variants enforce it). */
  aavmfCode: "/usr/share/AAVMF/AAVMF_CODE.fd",
  aavmfVars: "/usr/share/AAVMF/AAVMF_VARS.fd",
} as const;

export interface MachineFiles {
  readonly serialLog: string;
  readonly qmpSocket: string;
  readonly uefiVars: string;
  readonly sercon: string;
}

const QEMU_X86 = "qemu-system-x86_64";
const QEMU_ARM64 = "qemu-system-aarch64";
/**
 * QEMU's `virt` board with a CPU TCG emulates quickly: `max` adds pointer authentication, which
 * TCG emulates slowly (QEMU docs, "A-profile CPU architecture support": pauth-impdef).
 */
const ARM64_CPU = "cortex-a57";
const DEFAULT_MEMORY_MIB = 512;
const QMP_CONNECT_TIMEOUT_MS = 10_000;
const QUIT_GRACE_MS = 3_000;
const SERIAL_POLL_MS = 200;
const LOG_TAIL_CHARS = 3_000;
const DISK_BOOT_INDEX = 1;
/**
 * SeaBIOS prints to the serial port only when fw_cfg "etc/sercon-port" names it: 0x3f8
 * (COM1), little-endian. iPXE's ROM then mirrors its text there too.
 */
const SERCON_PORT_BYTES = Uint8Array.of(0xf8, 0x03);
const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
/** QEMU retries its connection to the BMC this often (the BMC may come up after QEMU). */
const BMC_RECONNECT_SECONDS = 1;

export function machineFiles(workDir: string): MachineFiles {
  return {
    serialLog: join(workDir, "serial.log"),
    qmpSocket: join(workDir, "qmp.sock"),
    uefiVars: join(workDir, "OVMF_VARS.fd"),
    sercon: join(workDir, "sercon.bin"),
  };
}

/** QEMU's argument vector for a machine; pure, so it is tested without starting anything. */
export function qemuArgv(spec: MachineSpec, files: MachineFiles): string[] {
  if (!MAC_PATTERN.test(spec.mac))
    throw new LabConfigError(
      `machine ${spec.name}: MAC "${spec.mac}" is not six hex octets (e.g. 52:54:00:12:34:56)`,
    );
  const arm64 = spec.firmware === "uefi-arm64";
  // QEMU's NIC ROMs (ipxe-qemu) hold x86 code only: an arm64 machine boots with AAVMF's PXE.
  const nicBoot = spec.nicBoot ?? (arm64 ? "native" : "ipxe");
  if (spec.firmware === "bios" && nicBoot !== "ipxe")
    throw new LabConfigError(
      `machine ${spec.name}: SeaBIOS has no PXE or HTTP boot of its own; use nicBoot "ipxe" for BIOS machines`,
    );
  if (arm64 && nicBoot === "ipxe")
    throw new LabConfigError(
      `machine ${spec.name}: QEMU's iPXE ROMs are x86 code; use nicBoot "native" for arm64 machines`,
    );
  for (const path of [spec.disk, ...Object.values(files)])
    if (path?.includes(","))
      throw new LabConfigError(
        `machine ${spec.name}: path ${path} contains a comma, which QEMU's option syntax splits on; ` +
          "use a directory without commas",
      );
  const argv = [
    "-name",
    spec.name,
    "-accel",
    // An x86 host's KVM cannot run arm64 code: arm64 machines are always emulated.
    arm64 ? "tcg" : spec.accelerator,
    "-m",
    String(spec.memoryMiB ?? DEFAULT_MEMORY_MIB),
    "-display",
    "none",
    ...(arm64 ? [] : ["-vga", "none"]),
    "-monitor",
    "none",
  ];
  if (spec.bmc) {
    // The BMC starts QEMU at each power-on: append, or every power-on would erase the log. A
    // guest poweroff ends QEMU, which the BMC sees as "off" (OpenIPMI lanserv/bmc.c: power
    // state is whether its start command runs). QEMU's ipmi-bmc-extern speaks OpenIPMI's "VM"
    // serial codec (qemu hw/ipmi/ipmi_bmc_extern.c), behind a KCS system interface.
    argv.push(
      "-chardev",
      `file,id=serial0,path=${files.serialLog},append=on`,
      "-serial",
      "chardev:serial0",
      "-chardev",
      `socket,id=ipmi0,host=${spec.bmc.host},port=${spec.bmc.port},reconnect=${BMC_RECONNECT_SECONDS}`,
      "-device",
      "ipmi-bmc-extern,id=bmc0,chardev=ipmi0",
      "-device",
      "isa-ipmi-kcs,bmc=bmc0",
    );
  } else {
    argv.push(
      "-serial",
      `file:${files.serialLog}`,
      "-qmp",
      `unix:${files.qmpSocket},server=on,wait=off`,
      "-S",
    );
    // Without -no-reboot, a guest poweroff pauses QEMU instead of ending it, so the machine is
    // "off" and can be woken again (by Wake-on-LAN) like real hardware.
    argv.push(spec.noReboot ? "-no-reboot" : "-no-shutdown");
  }
  if (spec.uuid) argv.push("-uuid", spec.uuid);
  if (spec.firmware === "uefi")
    argv.push(
      "-machine",
      "q35",
      "-drive",
      `if=pflash,format=raw,unit=0,readonly=on,file=${FIRMWARE_FILES.ovmfCode}`,
      "-drive",
      `if=pflash,format=raw,unit=1,file=${files.uefiVars}`,
    );
  else if (arm64)
    argv.push(
      "-machine",
      "virt",
      "-cpu",
      ARM64_CPU,
      "-drive",
      `if=pflash,format=raw,unit=0,readonly=on,file=${FIRMWARE_FILES.aavmfCode}`,
      "-drive",
      `if=pflash,format=raw,unit=1,file=${files.uefiVars}`,
    );
  else argv.push("-fw_cfg", `name=etc/sercon-port,file=${files.sercon}`);
  const diskBootIndex = spec.networkFirst ? DISK_BOOT_INDEX + 1 : DISK_BOOT_INDEX;
  const nicBootIndex = spec.networkFirst || !spec.disk ? DISK_BOOT_INDEX : DISK_BOOT_INDEX + 1;
  if (spec.disk)
    argv.push(
      "-drive",
      `file=${spec.disk},format=raw,if=none,id=disk0`,
      "-device",
      `virtio-blk-pci,drive=disk0,bootindex=${diskBootIndex}`,
    );
  if (spec.network) {
    argv.push(
      "-netdev",
      `tap,id=net0,ifname=${spec.network.tap},script=no,downscript=no`,
      "-device",
      `virtio-net-pci,netdev=net0,mac=${spec.mac.toLowerCase()},bootindex=${nicBootIndex}` +
        (nicBoot === "ipxe" ? "" : ",romfile="),
    );
    if (nicBoot === "http") argv.push(...OVMF_PXE_OFF);
  } else argv.push("-nic", "none");
  return argv;
}

/** The QEMU system emulator for a firmware's architecture. */
export function qemuBinary(firmware: Firmware): string {
  return firmware === "uefi-arm64" ? QEMU_ARM64 : QEMU_X86;
}

/** A machine's files made fresh (empty serial log, its own UEFI variables) and its argv. */
export async function prepareMachine(
  spec: MachineSpec,
): Promise<{ files: MachineFiles; argv: string[] }> {
  await mkdir(spec.workDir, { recursive: true });
  const files = machineFiles(spec.workDir);
  const argv = qemuArgv(spec, files);
  await rm(files.qmpSocket, { force: true });
  await writeFile(files.serialLog, "");
  if (spec.firmware === "uefi") await copyFile(FIRMWARE_FILES.ovmfVars, files.uefiVars);
  else if (spec.firmware === "uefi-arm64") await copyFile(FIRMWARE_FILES.aavmfVars, files.uefiVars);
  else await writeFile(files.sercon, SERCON_PORT_BYTES);
  return { files, argv };
}

export type PowerState = "off" | "on" | "exited";

export class QemuMachine {
  readonly spec: MachineSpec;
  readonly files: MachineFiles;
  readonly #process: ResultPromise;
  readonly #qmp: QmpClient;
  #state: PowerState = "off";
  /** Set after a guest poweroff: the firmware must start over, not resume where it stopped. */
  #needsReset = false;
  #exitDetail: string | undefined;

  private constructor(
    spec: MachineSpec,
    files: MachineFiles,
    child: ResultPromise,
    qmp: QmpClient,
  ) {
    this.spec = spec;
    this.files = files;
    this.#process = child;
    this.#qmp = qmp;
    qmp.onEvent((event) => {
      if (event.event === "SHUTDOWN" && event.data?.guest === true && this.#state === "on") {
        this.#state = "off";
        this.#needsReset = true;
      }
    });
    child.then(
      (result) =>
        this.#exited(
          `exit code ${result.exitCode ?? "?"}, signal ${result.signal ?? "none"}: ${tail(String(result.stderr ?? ""))}`,
        ),
      (error: Error) => this.#exited(error.message),
    );
  }

  /** Starts QEMU powered off; call powerOn() (or let a WoL gate do it). */
  static async create(spec: MachineSpec): Promise<QemuMachine> {
    const { files, argv } = await prepareMachine(spec);
    const qemu = qemuBinary(spec.firmware);
    const [file, args] = spec.network
      ? ["ip", ["netns", "exec", spec.network.namespace, qemu, ...argv]]
      : [qemu, argv];
    const child = execa(file, args, { reject: false, stdin: "ignore", stdout: "ignore" });
    let exited = false;
    void child.then(() => (exited = true));
    try {
      const qmp = await QmpClient.connect(files.qmpSocket, QMP_CONNECT_TIMEOUT_MS, () => exited);
      return new QemuMachine(spec, files, child, qmp);
    } catch (error) {
      child.kill("SIGKILL");
      const result = await child;
      throw new MachineExitedError(
        spec.name,
        `QEMU did not come up: ${(error as Error).message}; stderr: ${tail(String(result.stderr ?? ""))}`,
        "",
      );
    }
  }

  get name(): string {
    return this.spec.name;
  }

  get mac(): string {
    return this.spec.mac.toLowerCase();
  }

  get state(): PowerState {
    return this.#state;
  }

  /** Presses the power button: the machine (re)starts its firmware. No-op when on. */
  async powerOn(): Promise<void> {
    if (this.#state !== "off") return;
    this.#state = "on";
    if (this.#needsReset) await this.#qmp.execute("system_reset");
    this.#needsReset = false;
    await this.#qmp.execute("cont");
  }

  async reset(): Promise<void> {
    await this.#qmp.execute("system_reset");
  }

  async serialOutput(): Promise<string> {
    return readFile(this.files.serialLog, "latin1");
  }

  /** Current size of the serial log, to wait for text that appears after this point. */
  async serialOffset(): Promise<number> {
    return (await stat(this.files.serialLog)).size;
  }

  /** Resolves with the first match of `pattern` on the serial console after `fromOffset`. */
  async waitForSerial(
    pattern: RegExp,
    timeoutMs: number,
    fromOffset = 0,
  ): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const output = (await this.#readFrom(fromOffset)).replaceAll("\r", "");
      const match = pattern.exec(output);
      if (match) return match;
      if (this.#state === "exited")
        throw new MachineExitedError(this.name, this.#exitDetail ?? "", tail(output));
      if (Date.now() > deadline)
        throw new SerialTimeoutError(this.name, pattern, timeoutMs, tail(output));
      await sleep(SERIAL_POLL_MS);
    }
  }

  /** Resolves when QEMU has exited (e.g. the guest powered off under -no-reboot). */
  async waitForExit(): Promise<void> {
    await this.#process;
  }

  /** Ends QEMU (QMP quit, then SIGKILL) and removes its socket and UEFI variables copy. */
  async stop(): Promise<void> {
    if (this.#state !== "exited") {
      await this.#qmp.execute("quit").catch(() => undefined);
      const quit = await Promise.race([
        this.#process.then(() => true),
        sleep(QUIT_GRACE_MS, false),
      ]);
      if (!quit) this.#process.kill("SIGKILL");
      await this.#process;
    }
    this.#qmp.close();
    await rm(this.files.qmpSocket, { force: true });
    await rm(this.files.uefiVars, { force: true });
    await rm(this.files.sercon, { force: true });
  }

  async #readFrom(offset: number): Promise<string> {
    const handle = await open(this.files.serialLog, "r");
    try {
      const { size } = await handle.stat();
      const length = Math.max(0, size - offset);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, offset);
      return buffer.toString("latin1");
    } finally {
      await handle.close();
    }
  }

  #exited(detail: string): void {
    this.#state = "exited";
    this.#exitDetail = detail;
  }
}

function tail(text: string): string {
  return text.slice(-LOG_TAIL_CHARS);
}
