/**
 * The shell text of metal's Nix launcher (nix/package.nix), taken from the Nix file by
 * nix-instantiate so Nix's own string escaping applies. Nix cannot build the package here (no
 * nixpkgs): writeShellApplication is stubbed to hand back its arguments, and its `text` is what
 * the package would install.
 */
import { execa } from "execa";
import { join } from "node:path";

/** The shell options writeShellApplication runs its text with (nixpkgs trivial-builders). */
export const LAUNCHER_SHELL_OPTIONS = ["errexit", "nounset", "pipefail"] as const;

/** The launcher's text as the repository at `repoRoot` defines it. */
export async function launcherText(repoRoot: string): Promise<string> {
  const expression = `(import ${join(repoRoot, "nix/package.nix")} { writeShellApplication = args: args; nodejs_22 = null; }).text`;
  const { stdout } = await execa("nix-instantiate", [
    "--eval",
    "--strict",
    "--json",
    "--expr",
    expression,
  ]);
  return JSON.parse(stdout) as string;
}
