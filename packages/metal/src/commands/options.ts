/** Option parsing and exit codes shared by subcommands. */
import { InvalidArgumentError } from "commander";
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

/** `--dashboard [host:port]`: commander gives `true` when the flag has no value. */
export type DashboardFlag = ListenAddress | true | undefined;

export function dashboardAddress(flag: DashboardFlag): ListenAddress | undefined {
  return flag === true ? { host: DEFAULT_DASHBOARD_HOST, port: DEFAULT_DASHBOARD_PORT } : flag;
}

export const DASHBOARD_FLAG_HELP = `show progress on a web page with /metrics (default ${DEFAULT_DASHBOARD_HOST}:${DEFAULT_DASHBOARD_PORT}; 0.0.0.0:PORT for other machines; docs/dashboard.md)`;
