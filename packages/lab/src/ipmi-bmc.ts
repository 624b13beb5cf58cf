/**
 * A simulated BMC for a lab machine: OpenIPMI's `ipmi_sim` (Debian `openipmi`) answering IPMI
 * over LAN (RMCP+, UDP 623) on an address of the lab bridge, inside the lan namespace. Its chassis
 * is a `chassis_control` program (lan.conf; lanserv/bmc_chassis.c runs it for power, reset and
 * boot flags instead of `startcmd`, with the protocol of lanserv/ipmi_sim_chassiscontrol:
 * `PROG DEVICE get PARM…` prints `PARM:VALUE` lines, `PROG DEVICE set PARM VALUE…` prints
 * nothing and exits 0, lanserv/extcmd.c). Ours owns the QEMU machine: power 1 starts QEMU
 * detached (ipmi_sim reads the program's output to end of file, so QEMU must not hold it), power
 * 0 kills it, the power state is whether it runs, and `cycle` is off then on once it has gone
 * (bmc_chassis.c `start_poweron_timer`). Boot flags: "Set System Boot Options" parameter 5 hands
 * the program the device (`boot pxe`); the next power-on starts QEMU with its NIC first in the
 * boot order, once (the flag is then cleared, as an IPMI "next boot only" flag is). That QEMU
 * keeps the order across the guest's own reboots until the BMC powers it again (QEMU has no
 * one-time `bootindex`: qemu-project/qemu issue 1995); metal answers an installed host's PXE
 * with `exit`, so it goes on to its disk (ADR 0331). QEMU's `ipmi-bmc-extern` connects
 * to the BMC's `serial kcs … codec VM` port on loopback. Such a machine has no Wake-on-LAN
 * listener.
 */
import { createHash } from "node:crypto";
import { execa, type ResultPromise } from "execa";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LabConfigError, LabError } from "./errors.js";
import type { VirtualNetwork } from "./netns.js";

export const IPMI_LAN_PORT = 623;
/** lanserv's MC address of a BMC and the device support bits of its example (chassis included). */
const BMC_IPMB = "0x20";
const MC_ADD = `mc_add ${BMC_IPMB} 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr`;
/** How long the chassis program waits for a killed QEMU to be gone, in 0.1 s steps. */
const POWER_OFF_WAIT_TENTHS = 100;
const IPMI_USER_NUMBER = 2;
const MAX_SESSIONS = 10;
const READY_TIMEOUT_MS = 10_000;
const POLL_MS = 100;
const STOP_GRACE_MS = 2_000;
const QEMU = "qemu-system-x86_64";
const GUID_HEX_DIGITS = 32;

export interface BmcSpec {
  /** The machine's name; also the BMC's (lanserv `name`). */
  readonly name: string;
  /** Where the BMC answers IPMI on the lab bridge (the host's `power.address`). */
  readonly address: string;
  readonly username: string;
  readonly password: string;
  /** TCP port on loopback in the lan namespace where QEMU's IPMI device connects. */
  readonly serialPort: number;
  /** The machine's QEMU argv (qemuArgv with `bmc` set): the start command runs it. */
  readonly qemuArgv: readonly string[];
  /** The same machine with its NIC first in the boot order: started once after `bootdev pxe`. */
  readonly networkBootArgv: readonly string[];
  readonly workDir: string;
}

export interface BmcFiles {
  readonly config: string;
  readonly commands: string;
  readonly stateDir: string;
  readonly startScript: string;
  readonly networkStartScript: string;
  readonly chassisControl: string;
  /** The pending boot device ("pxe"), absent when none is set. */
  readonly bootFlag: string;
  readonly qemuPid: string;
  readonly qemuLog: string;
  readonly log: string;
}

export function bmcFiles(workDir: string): BmcFiles {
  return {
    config: join(workDir, "bmc-lan.conf"),
    commands: join(workDir, "bmc.emu"),
    stateDir: join(workDir, "bmc-state"),
    startScript: join(workDir, "bmc-start-qemu.sh"),
    networkStartScript: join(workDir, "bmc-start-qemu-network.sh"),
    chassisControl: join(workDir, "bmc-chassis-control.sh"),
    bootFlag: join(workDir, "bmc-boot-device"),
    qemuPid: join(workDir, "qemu.pid"),
    qemuLog: join(workDir, "qemu.log"),
    log: join(workDir, "bmc.log"),
  };
}

/** lanserv's strings are delimited by `"` with no escapes (lanserv/config.c get_delim_str). */
function quoted(what: string, text: string): string {
  if (/["\n]/.test(text) || text.includes("$"))
    throw new LabConfigError(
      `BMC ${what} ${JSON.stringify(text)} contains ", $ or a newline, which lan.conf cannot hold; choose another`,
    );
  return `"${text}"`;
}

/** The lan.conf of one BMC (ipmi_lan(5)); pure, so it is tested without starting anything. */
export function bmcLanConf(spec: BmcSpec, files: BmcFiles): string {
  // ipmi_sim runs the chassis program through popen (a shell splits its command line).
  if (/\s/.test(files.chassisControl))
    throw new LabConfigError(
      `BMC of ${spec.name}: its work directory ${spec.workDir} contains white space, which ipmi_sim's ` +
        "chassis_control command line cannot hold; choose another lab work directory",
    );
  return [
    `name ${quoted("name", spec.name)}`,
    `set_working_mc ${BMC_IPMB}`,
    "  startlan 1",
    `    addr ${spec.address} ${IPMI_LAN_PORT}`,
    "    priv_limit admin",
    "    allowed_auths_callback md5",
    "    allowed_auths_user md5",
    "    allowed_auths_operator md5",
    "    allowed_auths_admin md5",
    // "Must have a GUID to do RMCP+" (lanserv/lanserv_ipmi.c), and lanplus is RMCP+.
    `    guid ${bmcGuid(spec.name)}`,
    "  endlan",
    `  serial kcs 127.0.0.1 ${spec.serialPort} codec VM`,
    // The program's first argument is the device lanserv's example names (its MC address).
    `  chassis_control ${quoted("chassis program path", `${files.chassisControl} ${BMC_IPMB}`)}`,
    `  user ${IPMI_USER_NUMBER} true ${quoted("user", spec.username)} ${quoted("password", spec.password)} admin ${MAX_SESSIONS} md5`,
    "",
  ].join("\n");
}

/** A stable 16-byte GUID per BMC name, as the 32 hex digits lan.conf takes. */
function bmcGuid(name: string): string {
  return createHash("sha256")
    .update(`metal-lab-bmc:${name}`)
    .digest("hex")
    .slice(0, GUID_HEX_DIGITS);
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The start command: records QEMU's pid (so stop() can end it) and becomes QEMU. */
export function bmcStartScript(qemuArgv: readonly string[], files: BmcFiles): string {
  return [
    "#!/bin/sh",
    `echo $$ > ${shellQuote(files.qemuPid)}`,
    `exec ${[QEMU, ...qemuArgv].map(shellQuote).join(" ")}`,
    "",
  ].join("\n");
}

/**
 * The chassis program (lanserv/ipmi_sim_chassiscontrol protocol): power, reset and boot flags
 * of one QEMU machine. A boot device other than "pxe" clears the flag (the machine's own
 * order); with none set it reports "none", which ipmitool shows as "No override".
 */
export function bmcChassisControlScript(files: BmcFiles): string {
  const pidFile = shellQuote(files.qemuPid);
  const bootFlag = shellQuote(files.bootFlag);
  return `#!/bin/sh
# ipmi_sim runs: PROGRAM DEVICE get PARM... | PROGRAM DEVICE set PARM VALUE...
running() {
  pid=$(cat ${pidFile} 2>/dev/null) || return 1
  [ -n "$pid" ] && grep -q '^State:[[:space:]]*[^Z]' "/proc/$pid/status" 2>/dev/null
}
power_on() {
  running && return 0
  script=${shellQuote(files.startScript)}
  if [ "$(cat ${bootFlag} 2>/dev/null)" = pxe ]; then
    script=${shellQuote(files.networkStartScript)}
    rm -f ${bootFlag}
  fi
  setsid sh "$script" </dev/null >>${shellQuote(files.qemuLog)} 2>&1 &
}
power_off() {
  running || return 0
  kill -KILL "$pid"
  tenths=0
  while running && [ "$tenths" -lt ${POWER_OFF_WAIT_TENTHS} ]; do sleep 0.1; tenths=$((tenths + 1)); done
  ! running
}
shift
operation=$1
shift
case "$operation" in
  get)
    for parm in "$@"; do
      case "$parm" in
        power) if running; then echo "power:1"; else echo "power:0"; fi ;;
        boot) if [ -s ${bootFlag} ]; then echo "boot:$(cat ${bootFlag})"; else echo "boot:none"; fi ;;
        *) echo "no such parameter: $parm"; exit 1 ;;
      esac
    done
    ;;
  set)
    while [ $# -ge 2 ]; do
      case "$1" in
        power) if [ "$2" = 1 ]; then power_on; else power_off || { echo "QEMU did not stop"; exit 1; }; fi ;;
        reset) power_off && power_on ;;
        shutdown) power_off ;;
        boot) if [ "$2" = pxe ]; then echo pxe > ${bootFlag}; else rm -f ${bootFlag}; fi ;;
        *) echo "unsupported: $1"; exit 1 ;;
      esac
      shift 2
    done
    ;;
  *) echo "unknown operation: $operation"; exit 1 ;;
esac
`;
}

export class SimulatedBmc {
  readonly spec: BmcSpec;
  readonly files: BmcFiles;
  readonly #process: ResultPromise;
  readonly #namespace: string;

  private constructor(spec: BmcSpec, files: BmcFiles, child: ResultPromise, namespace: string) {
    this.spec = spec;
    this.files = files;
    this.#process = child;
    this.#namespace = namespace;
  }

  /** Starts ipmi_sim in the lan namespace, its LAN address on the bridge; the machine is off. */
  static async start(
    network: VirtualNetwork,
    spec: BmcSpec,
    hostOctet: number,
  ): Promise<SimulatedBmc> {
    const files = bmcFiles(spec.workDir);
    await mkdir(files.stateDir, { recursive: true });
    // The password is in lan.conf: only root reads it.
    await writeFile(files.config, bmcLanConf(spec, files), { mode: 0o600 });
    await chmod(files.config, 0o600);
    await writeFile(
      files.commands,
      [`mc_setbmc ${BMC_IPMB}`, MC_ADD, `mc_enable ${BMC_IPMB}`, ""].join("\n"),
    );
    await writeFile(files.startScript, bmcStartScript(spec.qemuArgv, files), { mode: 0o700 });
    await writeFile(files.networkStartScript, bmcStartScript(spec.networkBootArgv, files), {
      mode: 0o700,
    });
    await writeFile(files.chassisControl, bmcChassisControlScript(files), { mode: 0o700 });
    await rm(files.qemuPid, { force: true });
    await rm(files.bootFlag, { force: true });
    if ((await network.addBridgeAddress(hostOctet)) !== spec.address)
      throw new LabConfigError(
        `BMC of ${spec.name}: address ${spec.address} is not in the lab subnet ${network.subnet}.0/24`,
      );
    const [file, args] = network.lanArgv("ipmi_sim", [
      "-c",
      files.config,
      "-f",
      files.commands,
      "-s",
      files.stateDir,
      "-n",
    ]);
    const child = execa(file, args, { reject: false, stdin: "ignore", all: true });
    let output = "";
    child.all?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    let exited = false;
    void child.then(() => (exited = true));
    const bmc = new SimulatedBmc(spec, files, child, network.lan);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await bmc.#listening())) {
      if (exited || Date.now() > deadline) {
        child.kill("SIGKILL");
        await child;
        throw new LabError(
          `BMC of ${spec.name}: ipmi_sim did not listen on ${spec.address}:${IPMI_LAN_PORT} ` +
            `(${exited ? "it exited" : "timeout"}): ${output.slice(-1000)}; is openipmi installed (scripts/bootstrap.sh)?`,
        );
      }
      await sleep(POLL_MS);
    }
    void child.then(() => writeFile(files.log, output).catch(() => undefined));
    return bmc;
  }

  get name(): string {
    return this.spec.name;
  }

  async #listening(): Promise<boolean> {
    const { stdout } = await execa(
      "ss",
      [
        "-N",
        this.#namespace,
        "-H",
        "-u",
        "-l",
        "-n",
        "src",
        `${this.spec.address}:${IPMI_LAN_PORT}`,
      ],
      { reject: false },
    );
    return stdout.trim() !== "";
  }

  /** Ends QEMU (if on) and ipmi_sim. */
  async stop(): Promise<void> {
    const pid = Number((await readFile(this.files.qemuPid, "utf8").catch(() => "")).trim());
    if (pid > 0) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already off.
      }
    }
    this.#process.kill("SIGTERM");
    const ended = await Promise.race([this.#process.then(() => true), sleep(STOP_GRACE_MS, false)]);
    if (!ended) this.#process.kill("SIGKILL");
    await this.#process;
  }
}
