/**
 * One netboot installer per architecture (ADR 0132: `packages.x86_64-linux.installer`,
 * `packages.aarch64-linux.installer`), named on the command line as `--installer DIR` (the
 * x86_64 one, as before) or `--installer x86_64=DIR,aarch64=DIR` (ADR 0191).
 */
import { resolve } from "node:path";
import type { HostArch, Inventory } from "../inventory/types.js";

export const HOST_ARCHES: readonly HostArch[] = ["x86_64", "aarch64"];
/** The architecture a bare `--installer DIR` is for: what `nix build .#installer` makes on x86. */
export const DEFAULT_INSTALLER_ARCH: HostArch = "x86_64";

export type InstallerDirs = Readonly<Partial<Record<HostArch, string>>>;

/** `DIR` or `ARCH=DIR[,ARCH=DIR]` → absolute directories by architecture; throws on a bad pair. */
export function parseInstallerDirs(value: string): InstallerDirs {
  if (!value.includes("=")) return { [DEFAULT_INSTALLER_ARCH]: resolve(value) };
  const dirs: Partial<Record<HostArch, string>> = {};
  for (const pair of value.split(",")) {
    const [arch, dir] = pair.split(/=(.*)/s, 2);
    if (!HOST_ARCHES.includes(arch as HostArch) || !dir)
      throw new Error(
        `--installer ${value}: "${pair}" is not ARCH=DIR with ARCH one of ${HOST_ARCHES.join(", ")} ` +
          "(e.g. --installer x86_64=result-x86_64,aarch64=result-aarch64)",
      );
    if (dirs[arch as HostArch] !== undefined)
      throw new Error(
        `--installer ${value}: ${arch} is named twice; give one directory per architecture`,
      );
    dirs[arch as HostArch] = resolve(dir);
  }
  return dirs;
}

/** Hosts whose architecture has no installer directory, each with the fix. */
export function hostsWithoutInstaller(
  inventory: Inventory,
  dirs: InstallerDirs,
): { host: string; arch: HostArch; fix: string }[] {
  return inventory.hosts
    .filter((host) => dirs[host.arch] === undefined)
    .map((host) => ({
      host: host.name,
      arch: host.arch,
      fix:
        `build it with \`nix build .#packages.${host.arch}-linux.installer -o result-${host.arch}\` ` +
        `and pass --installer ${[...Object.keys(dirs).map((arch) => `${arch}=…`), `${host.arch}=result-${host.arch}`].join(",")}`,
    }));
}
