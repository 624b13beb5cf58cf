/**
 * The install command is an argv template, so real hardware runs nixos-anywhere and the virtual
 * lab runs its own installer with the same orchestration. Placeholders are `{name}`; every value
 * is substituted inside one argv element (no shell, so no quoting problems and no injection) by
 * the one argv template engine (src/argv-template.ts).
 */
import { renderArgv } from "../argv-template.js";
import { ConfigError } from "./errors.js";

/** What an install command can refer to. */
export interface InstallPlaceholders {
  /** Flake reference from the inventory (`cluster.flake`). */
  readonly flake: string;
  /** Inventory host name. */
  readonly host: string;
  /** Address the installer reported in its callback: where the install connects. */
  readonly ip: string;
  /** The host's static address from the inventory (the installed system's address). */
  readonly address: string;
  /** Install disk from the inventory. */
  readonly disk: string;
  /** Admin SSH private key file. */
  readonly key: string;
  /** Directory copied onto the installed system (`nixos-anywhere --extra-files`). */
  readonly extra_files: string;
  /**
   * known_hosts file holding exactly the installer's pinned SSH host key. Every `ssh` the
   * command starts uses it anyway (install/pinned-ssh.ts); passing it is for other tools.
   */
  readonly known_hosts: string;
  /** Directory for files the command may write (per host, inside the state directory). */
  readonly work_dir: string;
}

export const DEFAULT_INSTALL_COMMAND: readonly string[] = [
  "nixos-anywhere",
  "--flake",
  "{flake}#{host}",
  "--target-host",
  "root@{ip}",
  "-i",
  "{key}",
  "--extra-files",
  "{extra_files}",
  // No --ssh-option for the host key: nixos-anywhere puts its own `UserKnownHostsFile=/dev/null
  // StrictHostKeyChecking=no` first (src/nixos-anywhere.sh line 70), so those would be ignored;
  // the pinned `ssh` first on the command's PATH enforces the key instead (pinned-ssh.ts).
  "--phases",
  "kexec,disko,install,reboot",
];

const PLACEHOLDER = /\{([a-z_]+)\}/g;

export function placeholderNames(): readonly string[] {
  return [
    "flake",
    "host",
    "ip",
    "address",
    "disk",
    "key",
    "extra_files",
    "known_hosts",
    "work_dir",
  ] satisfies ReadonlyArray<keyof InstallPlaceholders>;
}

/** Checks a template up front, so a typo fails `metal check`, not the first install. */
export function validateTemplate(template: readonly string[]): void {
  if (template.length === 0) throw new ConfigError("install.command is empty: give an argv list");
  const known = new Set(placeholderNames());
  for (const element of template) {
    for (const [, name] of element.matchAll(PLACEHOLDER)) {
      if (!known.has(name ?? "")) {
        throw new ConfigError(
          `install.command uses the unknown placeholder {${name}} in ${JSON.stringify(element)} (known: ${[...known].map((n) => `{${n}}`).join(", ")})`,
        );
      }
    }
  }
}

export function expandTemplate(template: readonly string[], values: InstallPlaceholders): string[] {
  validateTemplate(template);
  return renderArgv(template, { ...values });
}
