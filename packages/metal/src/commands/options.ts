/** Option parsing and exit codes shared by subcommands. */
import { InvalidArgumentError } from "commander";
import { DEFAULT_DASHBOARD_HOST } from "../ui/dashboard.js";

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

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
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
