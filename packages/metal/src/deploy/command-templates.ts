/**
 * The commands a deploy runs on the admin machine, as argv templates. Defaults build with Nix
 * and activate with nixos-rebuild over SSH (ADR 0070); tests and unusual setups replace them.
 *
 * Placeholders inside an argument: `{flake}`, `{host}`, `{address}`, `{toplevel}`, and for the
 * rollback watchdog `{generation}`, `{rollback_unit}`, `{confirm_seconds}`. An argument that is
 * exactly `{ssh_options}` expands to the SSH options (known_hosts, identity, port), so host keys
 * are checked on every connection.
 *
 * nixos-rebuild flags used here (`switch`, `boot`, `--flake`, `--target-host`) are those of
 * nixpkgs pkgs/by-name/ni/nixos-rebuild-ng/src/nixos_rebuild/__init__.py, get_parser()
 * (`--flake` l. 94, `--target-host` l. 167 at commit 0051a3dc). Its `switch --rollback` is
 * `nix-env --rollback -p PROFILE` then the profile's `bin/switch-to-configuration switch`
 * (nix.py, `rollback()`); metal's rollback does the same with `--switch-generation N`, so it
 * lands on the generation the node ran before this deploy even when the switch failed before it
 * set the profile (ADR 0211).
 */
import { renderArgv } from "../argv-template.js";

export interface DeployCommands {
  /** Builds the new system; the last line of its stdout is the toplevel store path. */
  readonly build: readonly string[];
  /** Prints the running system's kernel and initrd paths, one a line. */
  readonly currentBoot: readonly string[];
  /** Prints the new system's kernel and initrd paths, one a line. */
  readonly newBoot: readonly string[];
  readonly switch: readonly string[];
  /** Makes the new system the boot default without activating it. */
  readonly boot: readonly string[];
  readonly reboot: readonly string[];
  /** Exits 0 when k3s runs on the node. */
  readonly k3sHealth: readonly string[];
  /** Prints the system profile's current generation link, e.g. `system-41-link`. */
  readonly currentGeneration: readonly string[];
  /**
   * Starts the rollback watchdog on the node before a switch: a transient systemd timer that,
   * unless stopped within `{confirm_seconds}`, switches back to `{generation}` by itself.
   */
  readonly armRollback: readonly string[];
  /** Stops the watchdog; fails when the node cannot be reached or the timer already fired. */
  readonly confirm: readonly string[];
  /** Switches the node back to `{generation}` now (metal still reaches it). */
  readonly rollback: readonly string[];
  /**
   * After a reboot activation: makes `{generation}` the boot default again without activating
   * it on the new kernel (its modules belong to the old one); the `reboot` command follows.
   */
  readonly rollbackBoot: readonly string[];
}

const SSH_TARGET = "root@{address}";
export const SYSTEM_PROFILE = "/nix/var/nix/profiles/system";
/**
 * The rollback both the watchdog and metal run, as one remote shell line: the profile goes back
 * to the recorded generation, then that generation's own switch-to-configuration activates it.
 */
const ROLLBACK_SCRIPT = rollbackScript("switch");

function rollbackScript(action: "switch" | "boot"): string {
  return (
    `nix-env -p ${SYSTEM_PROFILE} --switch-generation {generation} && ` +
    `${SYSTEM_PROFILE}/bin/switch-to-configuration ${action}`
  );
}

export const DEFAULT_DEPLOY_COMMANDS: DeployCommands = {
  build: [
    "nix",
    "build",
    "--no-link",
    "--print-out-paths",
    "{flake}#nixosConfigurations.{host}.config.system.build.toplevel",
  ],
  currentBoot: [
    "ssh",
    "{ssh_options}",
    SSH_TARGET,
    "readlink",
    "-f",
    "/run/current-system/kernel",
    "/run/current-system/initrd",
  ],
  newBoot: ["readlink", "-f", "{toplevel}/kernel", "{toplevel}/initrd"],
  switch: ["nixos-rebuild", "switch", "--flake", "{flake}#{host}", "--target-host", SSH_TARGET],
  boot: ["nixos-rebuild", "boot", "--flake", "{flake}#{host}", "--target-host", SSH_TARGET],
  // Scheduled a few seconds ahead so the SSH session ends cleanly before the machine goes down.
  reboot: [
    "ssh",
    "{ssh_options}",
    SSH_TARGET,
    "systemd-run",
    "--on-active=3",
    "systemctl",
    "reboot",
  ],
  k3sHealth: ["ssh", "{ssh_options}", SSH_TARGET, "systemctl", "is-active", "--quiet", "k3s"],
  currentGeneration: ["ssh", "{ssh_options}", SSH_TARGET, "readlink", SYSTEM_PROFILE],
  // systemd/systemd man/systemd-run.xml: `--on-active=` makes a transient .timer that starts the
  // transient .service of the same `--unit=` name; AccuracySec=1s so it fires on time. A
  // transient unit belongs to PID 1, not to the SSH session: it survives the connection and an
  // sshd restart during the switch (deploy-rs gets the same by ignoring SIGHUP, activate.rs).
  armRollback: [
    "ssh",
    "{ssh_options}",
    SSH_TARGET,
    "systemd-run",
    "--unit={rollback_unit}",
    "--description=metal-deploy-rollback-watchdog",
    "--on-active={confirm_seconds}",
    "--timer-property=AccuracySec=1s",
    "/bin/sh",
    "-c",
    `'${ROLLBACK_SCRIPT}'`,
  ],
  // `systemctl stop` of a timer that already fired (unit gone) exits non-zero: no false confirm.
  confirm: ["ssh", "{ssh_options}", SSH_TARGET, "systemctl", "stop", "{rollback_unit}.timer"],
  rollback: ["ssh", "{ssh_options}", SSH_TARGET, ROLLBACK_SCRIPT],
  rollbackBoot: ["ssh", "{ssh_options}", SSH_TARGET, rollbackScript("boot")],
};

export interface CommandValues {
  readonly flake: string;
  readonly host: string;
  readonly address: string;
  readonly toplevel?: string;
  readonly generation?: string;
  readonly rollback_unit?: string;
  readonly confirm_seconds?: string;
}

/** Renders with the one argv template engine (src/argv-template.ts). */
export function renderCommand(
  template: readonly string[],
  values: CommandValues,
  sshOptions: readonly string[],
): string[] {
  return renderArgv(template, { ...values }, { ssh_options: sshOptions });
}

export interface BootFiles {
  readonly kernel: string;
  readonly initrd: string;
}

export type RebootMode = "auto" | "always" | "never";
export const REBOOT_MODES: readonly RebootMode[] = ["auto", "always", "never"];

/** Reads the two lines `currentBoot`/`newBoot` print. */
export function parseBootFiles(output: string): BootFiles | undefined {
  const [kernel, initrd] = output
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  return kernel && initrd ? { kernel, initrd } : undefined;
}

/** The generation number in a profile link (`system-41-link`, or a path ending in it). */
export function parseGeneration(output: string): string | undefined {
  return /system-(\d+)-link\s*$/.exec(output.trim())?.[1];
}

/** A new kernel or initrd only takes effect after a reboot; everything else `switch` activates. */
export function needsReboot(mode: RebootMode, current: BootFiles, next: BootFiles): boolean {
  if (mode !== "auto") return mode === "always";
  return current.kernel !== next.kernel || current.initrd !== next.initrd;
}
