/**
 * The netboot installer as files: `bzImage`, `initrd` and `cmdline` in one directory. That layout
 * is the contract with the Nix `packages.installer` output (and the lab's stand-in installer).
 */
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InstallerArtifactsError } from "./errors.js";

export const INSTALLER_FILES = { kernel: "bzImage", initrd: "initrd", cmdline: "cmdline" } as const;

export interface InstallerArtifacts {
  readonly directory: string;
  /** Absolute paths. */
  readonly kernel: string;
  readonly initrd: string;
  /** The installer's own kernel parameters (e.g. `init=/nix/store/…/init loglevel=4`). */
  readonly cmdline: string;
}

/** Problems with the directory, one sentence each; empty when it is usable. */
export async function installerArtifactProblems(directory: string): Promise<string[]> {
  const problems: string[] = [];
  for (const name of Object.values(INSTALLER_FILES)) {
    const info = await stat(join(directory, name)).catch(() => undefined);
    if (!info) problems.push(`${name} is missing`);
    else if (!info.isFile()) problems.push(`${name} is not a file`);
    else if (info.size === 0 && name !== INSTALLER_FILES.cmdline) problems.push(`${name} is empty`);
  }
  return problems;
}

export async function loadInstallerArtifacts(directory: string): Promise<InstallerArtifacts> {
  const absolute = resolve(directory);
  const problems = await installerArtifactProblems(absolute);
  if (problems.length > 0) throw new InstallerArtifactsError(absolute, problems);
  const cmdline = (await readFile(join(absolute, INSTALLER_FILES.cmdline), "utf8"))
    .replace(/\s+/g, " ")
    .trim();
  return {
    directory: absolute,
    kernel: join(absolute, INSTALLER_FILES.kernel),
    initrd: join(absolute, INSTALLER_FILES.initrd),
    cmdline,
  };
}
