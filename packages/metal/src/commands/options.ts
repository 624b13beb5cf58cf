/** Option parsing and exit codes shared by subcommands. */
import { dirname, join, resolve } from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { DEBIAN_IPXE_DIR } from "netboot";
import type { CheckOptions } from "../check/checks.js";
import { parseInstallerDirs, type InstallerDirs } from "../boot/installer-dirs.js";
import { DEFAULT_HTTP_PORT } from "../check/ports.js";
import { DEFAULT_INVENTORY_FILE } from "../inventory/load.js";
import type { Inventory } from "../inventory/types.js";
import { resolveSecretsDir, SECRETS_DIR_ENV } from "../secrets/layout.js";
import {
  DEFAULT_DASHBOARD_HOST,
  DEFAULT_DASHBOARD_PORT,
  type ListenAddress,
} from "../ui/dashboard.js";

/** Usage or configuration error: nothing was changed (see the program's --help). */
export const CONFIG_ERROR_EXIT_CODE = 2;

const MAX_PORT = 65_535;

export function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) {
    throw new InvalidArgumentError(`"${text}" is not a port number (1–65535, e.g. 8080)`);
  }
  return port;
}

/** `--dashboard HOST:PORT`, `PORT` or `[IPv6]:PORT`; a bare port binds 127.0.0.1. */
export function parseListenAddress(text: string): ListenAddress {
  const match = /^(?:\[(?<v6>[0-9a-fA-F:.]+)\]|(?<host>[^:[\]]*)):(?<port>\d+)$/.exec(text);
  const portText = match?.groups?.port ?? (/^\d+$/.test(text) ? text : undefined);
  if (portText === undefined)
    throw new InvalidArgumentError(
      `"${text}" is not HOST:PORT or PORT (e.g. 127.0.0.1:8090, or 0.0.0.0:8090 to let other machines see it)`,
    );
  return {
    host: match?.groups?.v6 ?? (match?.groups?.host || DEFAULT_DASHBOARD_HOST),
    port: parsePort(portText),
  };
}

export const DASHBOARD_FLAG_HELP = `show progress on a web page with /metrics (default ${DEFAULT_DASHBOARD_HOST}:${DEFAULT_DASHBOARD_PORT}; 0.0.0.0:PORT for other machines; docs/dashboard.md)`;

/** `nix build .#installer` leaves `result` next to the flake. */
export const DEFAULT_INSTALLER_LINK = "result";
/** The flake's devShell points this at nixpkgs' iPXE (flake.nix); Debian's package is the default. */
export const IPXE_DIR_ENV = "METAL_IPXE_DIR";

/** The flags `metal install` and `metal check` share, so check tests exactly what install uses. */
export interface PreflightFlags {
  readonly inventory: string;
  readonly installer?: string;
  readonly secretsDir?: string;
  readonly httpPort: number;
  readonly ipxeDir: string;
  readonly interface?: string;
}

/** Adds the shared flags; the spellings and meanings match `netboot serve`'s. */
export function addPreflightOptions(command: Command): Command {
  return command
    .option("--inventory <file>", "the inventory", DEFAULT_INVENTORY_FILE)
    .option(
      "--installer <dir>",
      `installer files (bzImage, initrd, cmdline); one per architecture as x86_64=DIR,aarch64=DIR [default: ${DEFAULT_INSTALLER_LINK} next to the inventory, for x86_64]`,
      installerFlag,
    )
    .option(
      "--secrets-dir <dir>",
      `private keys from metal secrets [default: $${SECRETS_DIR_ENV}, else ~/.config/metal/<cluster> of the user (under sudo: of the user who ran sudo)]`,
    )
    .option(
      "--http-port <port>",
      "HTTP port (boot files, callback API)",
      parsePort,
      DEFAULT_HTTP_PORT,
    )
    .addOption(
      new Option(
        "--ipxe-dir <dir>",
        "directory of first-stage iPXE binaries (undionly.kpxe, ipxe.efi)",
      )
        .env(IPXE_DIR_ENV)
        .default(DEBIAN_IPXE_DIR),
    )
    .option(
      "-i, --interface <name>",
      "network interface facing the machines [default: the inventory's network.interface]",
    );
}

/** The preflight's inputs from the shared flags, every path resolved the way install uses it. */
function installerOptions(
  dirs: InstallerDirs,
): Pick<CheckOptions, "installerDir" | "installerDirs"> {
  return { installerDir: dirs.x86_64 ?? Object.values(dirs)[0]!, installerDirs: dirs };
}

/** commander parser for --installer: refuses a malformed ARCH=DIR list before anything runs. */
function installerFlag(value: string): string {
  try {
    parseInstallerDirs(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

export function checkOptions(flags: PreflightFlags): CheckOptions {
  const inventoryPath = resolve(flags.inventory);
  return {
    inventoryPath,
    // One directory (x86_64), or x86_64=DIR,aarch64=DIR (ADR 0191); validated when parsed.
    ...installerOptions(
      parseInstallerDirs(flags.installer ?? join(dirname(inventoryPath), DEFAULT_INSTALLER_LINK)),
    ),
    httpPort: flags.httpPort,
    ipxeDir: resolve(flags.ipxeDir),
    interfaceName: flags.interface,
    secretsDir: (inventory) => resolveSecretsDir(inventory, flags.secretsDir),
  };
}

/** With --interface, the inventory's network.interface is replaced for this run. */
export function withInterface(inventory: Inventory, name: string | undefined): Inventory {
  return name === undefined
    ? inventory
    : { ...inventory, network: { ...inventory.network, interface: name } };
}
