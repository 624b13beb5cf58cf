/**
 * Asks Nix what the flake derives from an inventory, without nixpkgs: `nix-instantiate --eval`
 * of the plain-function library in nix/lib. Used to prove that the CLI and the flake agree, and
 * to show the disko layout a host will get.
 */
import { execa, ExecaError } from "execa";
import { fileURLToPath } from "node:url";
import { NixEvaluationError, NixMissingError } from "./errors.js";
import type { HostSettings } from "../inventory/host-settings.js";

/** nix/lib of this repository, from src/nix or dist/nix alike. */
const NIX_LIB = fileURLToPath(new URL("../../../../nix/lib/", import.meta.url));

async function evaluate(entry: string, inventoryFile: string): Promise<unknown> {
  try {
    const { stdout } = await execa("nix-instantiate", [
      "--eval",
      "--strict",
      "--json",
      `${NIX_LIB}${entry}`,
      "--argstr",
      "inventoryFile",
      inventoryFile,
    ]);
    return JSON.parse(stdout);
  } catch (error) {
    if (!(error instanceof ExecaError)) throw error;
    if (error.code === "ENOENT") throw new NixMissingError();
    throw new NixEvaluationError(entry, inventoryFile, String(error.stderr ?? ""));
  }
}

/** nix/lib/host-settings.nix applied to `inventoryFile` (an absolute path). */
export async function evaluateNixHostSettings(
  inventoryFile: string,
): Promise<Record<string, HostSettings>> {
  return (await evaluate("eval-host-settings.nix", inventoryFile)) as Record<string, HostSettings>;
}

/** Every host's `disko.devices` (nix/lib/disko-layout.nix), keyed by host name. */
export async function evaluateNixDiskoLayouts(
  inventoryFile: string,
): Promise<Record<string, unknown>> {
  return (await evaluate("eval-disko-layout.nix", inventoryFile)) as Record<string, unknown>;
}
