/**
 * The commands a deploy runs on the admin machine, as argv templates. Defaults build with Nix
 * and activate with nixos-rebuild over SSH (ADR 0070); tests and unusual setups replace them.
 *
 * Placeholders inside an argument: `{flake}`, `{host}`, `{address}`, `{toplevel}`. An argument
 * that is exactly `{ssh_options}` expands to the SSH options (known_hosts, identity, port), so
 * host keys are checked on every connection.
 */
import { dirname, resolve } from "node:path";

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
  /** Shown in failure reports, never run by the deploy itself. */
  readonly rollback: readonly string[];
}

const SSH_TARGET = "root@{address}";

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
  rollback: ["nixos-rebuild", "switch", "--rollback", "--target-host", SSH_TARGET],
};

export interface CommandValues {
  readonly flake: string;
  readonly host: string;
  readonly address: string;
  readonly toplevel?: string;
}

/**
 * A relative path flake (`.`, `./cluster`) means the inventory's folder, wherever metal is run
 * from; absolute paths and other references (`github:…`, `git+https://…`) pass through.
 */
export function flakeReference(flake: string, inventorySource: string): string {
  return /^\.\.?(\/|$)/.test(flake) ? resolve(dirname(inventorySource), flake) : flake;
}

const SSH_OPTIONS_PLACEHOLDER = "{ssh_options}";
const PLACEHOLDER = /\{(flake|host|address|toplevel)\}/g;

export function renderCommand(
  template: readonly string[],
  values: CommandValues,
  sshOptions: readonly string[],
): string[] {
  return template.flatMap((argument) =>
    argument === SSH_OPTIONS_PLACEHOLDER
      ? [...sshOptions]
      : [
          argument.replace(PLACEHOLDER, (_match, key: keyof CommandValues) => {
            const value = values[key];
            if (value === undefined) {
              throw new Error(
                `command template ${JSON.stringify(template)} uses {${key}} where it is not known`,
              );
            }
            return value;
          }),
        ],
  );
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

/** A new kernel or initrd only takes effect after a reboot; everything else `switch` activates. */
export function needsReboot(mode: RebootMode, current: BootFiles, next: BootFiles): boolean {
  if (mode !== "auto") return mode === "always";
  return current.kernel !== next.kernel || current.initrd !== next.initrd;
}
