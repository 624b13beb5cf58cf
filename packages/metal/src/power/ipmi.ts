/**
 * The `ipmi` driver: `ipmitool -I lanplus` (IPMI 2.0 over RMCP+, UDP 623) against the host's BMC.
 * Commands and output as in ipmitool's lib/ipmi_chassis.c (github ipmitool/ipmitool):
 * `chassis power on|off|cycle|status` (status prints "Chassis Power is on|off"), and
 * `chassis bootdev pxe [options=efiboot]`, which sets the boot flags for the next boot only
 * unless `persistent` is among the options. The password never goes on argv (other users see it
 * in `ps`): `-E` makes ipmitool read it from IPMI_PASSWORD (lib/ipmi_main.c; IPMITOOL_PASSWORD
 * would win, so the child's environment has neither but ours).
 */
import { execa } from "execa";
import type { Host } from "../inventory/types.js";
import type { BmcCredentials } from "./credentials.js";
import type { BootFirmware, PowerDriver, PowerOperation, PowerState } from "./driver.js";
import { PowerCommandError } from "./errors.js";

export const IPMI_DRIVER = "ipmi";
export const IPMITOOL = "ipmitool";
const SUPPORTS: ReadonlySet<PowerOperation> = new Set([
  "on",
  "off",
  "cycle",
  "status",
  "bootFromNetworkOnce",
]);
/** lanplus retransmits every second (ipmitool's default -N 1); a few tries, then it fails. */
const RETRANSMIT_SECONDS = 1;
const RETRIES = 3;
/** One ipmitool run, retries included, never takes longer than this. */
export const IPMITOOL_TIMEOUT_MS = 30_000;
const STATUS_LINE = /^Chassis Power is (on|off)\s*$/m;
/**
 * Printed only when the BMC accepted the boot flags (lib/ipmi_chassis.c ipmi_chassis_set_bootdev);
 * ipmitool 1.8.19 exits 0 even when the BMC refused them ("Set Chassis Boot Parameter 5 failed").
 */
const BOOTDEV_ACCEPTED = /^Set Boot Device to pxe\s*$/m;
const MAX_ERROR_CHARS = 500;

export interface CommandResult {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program with exactly this environment added; the edge where ipmitool really runs. */
export type CommandRunner = (
  file: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
) => Promise<CommandResult>;

export const runCommand: CommandRunner = async (file, args, env) => {
  const result = await execa(file, args, {
    env: { ...withoutPasswords(process.env), ...env },
    extendEnv: false,
    reject: false,
    timeout: IPMITOOL_TIMEOUT_MS,
    stdin: "ignore",
  });
  if (result.failed && result.exitCode === undefined)
    throw new PowerCommandError(
      `${file} could not run: ${result.shortMessage}; install it (Debian: apt-get install ipmitool)`,
    );
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
};

function withoutPasswords(env: NodeJS.ProcessEnv): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(env))
    if (value !== undefined && key !== "IPMITOOL_PASSWORD" && key !== "IPMI_PASSWORD")
      kept[key] = value;
  return kept;
}

/** The argv for one chassis command, without the password (it travels in the environment). */
export function ipmitoolArgs(
  address: string,
  credentials: Pick<BmcCredentials, "username">,
  command: readonly string[],
): string[] {
  return [
    "-I",
    "lanplus",
    "-H",
    address,
    "-U",
    credentials.username,
    "-E",
    "-N",
    String(RETRANSMIT_SECONDS),
    "-R",
    String(RETRIES),
    ...command,
  ];
}

export function bootdevCommand(firmware: BootFirmware | undefined): string[] {
  // Without options= the BIOS boot type is assumed; UEFI firmware wants the EFI flag.
  return ["chassis", "bootdev", "pxe", ...(firmware === "uefi" ? ["options=efiboot"] : [])];
}

export function parsePowerStatus(stdout: string): PowerState | undefined {
  return STATUS_LINE.exec(stdout)?.[1] as PowerState | undefined;
}

export function ipmiDriver(
  host: Host,
  address: string,
  credentials: BmcCredentials,
  run: CommandRunner = runCommand,
): PowerDriver {
  async function ipmitool(command: readonly string[]): Promise<string> {
    const result = await run(IPMITOOL, ipmitoolArgs(address, credentials, command), {
      IPMI_PASSWORD: credentials.password,
    });
    if (result.exitCode !== 0) {
      const detail = (result.stderr.trim() || result.stdout.trim()).slice(0, MAX_ERROR_CHARS);
      throw new PowerCommandError(
        `host "${host.name}": the BMC at ${address} refused \`${command.join(" ")}\` ` +
          `(ipmitool exit ${result.exitCode ?? "?"}: ${detail || "no output"}); check the BMC ` +
          "address in the inventory, its user and password (docs/power.md) and that IPMI over LAN is enabled",
      );
    }
    return result.stdout;
  }

  return {
    name: IPMI_DRIVER,
    supports: SUPPORTS,
    powerOnStep: `powered on through its BMC at ${address}`,
    on: async () => void (await ipmitool(["chassis", "power", "on"])),
    off: async () => void (await ipmitool(["chassis", "power", "off"])),
    cycle: async () => {
      // IPMI's cycle is refused or ignored by many BMCs when the chassis is off (ipmitool(1)).
      const state = await status();
      await ipmitool(["chassis", "power", state === "on" ? "cycle" : "on"]);
    },
    status,
    bootFromNetworkOnce: async (firmware) => {
      const command = bootdevCommand(firmware);
      const stdout = await ipmitool(command);
      if (!BOOTDEV_ACCEPTED.test(stdout))
        throw new PowerCommandError(
          `host "${host.name}": the BMC at ${address} did not accept \`${command.join(" ")}\` ` +
            `(ipmitool printed "${stdout.trim().slice(0, MAX_ERROR_CHARS)}"); set PXE as the next boot ` +
            "device in its web interface, or reinstall it over SSH by removing its power table",
        );
    },
  };

  async function status(): Promise<PowerState> {
    const stdout = await ipmitool(["chassis", "power", "status"]);
    const state = parsePowerStatus(stdout);
    if (!state)
      throw new PowerCommandError(
        `host "${host.name}": the BMC at ${address} answered \`chassis power status\` with ` +
          `"${stdout.trim().slice(0, MAX_ERROR_CHARS)}", not "Chassis Power is on|off"`,
      );
    return state;
  }
}
