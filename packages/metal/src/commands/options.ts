/** Option parsing and exit codes shared by subcommands. */
import { InvalidArgumentError } from "commander";

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
