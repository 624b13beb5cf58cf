import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { formatFindings, runChecks } from "../check/checks.js";
import { parseInstallerDirs } from "../check/installer-dirs.js";
import { DEFAULT_HTTP_PORT } from "../check/ports.js";
import { DEFAULT_INVENTORY_FILE } from "../inventory/load.js";
import { CONFIG_ERROR_EXIT_CODE, parsePort } from "./options.js";

/** `nix build .#installer` leaves `result` in the working directory, next to the flake. */
const DEFAULT_INSTALLER_LINK = "result";

export function registerCheck(program: Command): void {
  program
    .command("check")
    .description(
      "check inventory, installer files, interface, ports and privileges before an install",
    )
    .option("--inventory <file>", "the inventory", DEFAULT_INVENTORY_FILE)
    .option(
      "--installer <dir>",
      `installer files (bzImage, initrd, cmdline); one per architecture as x86_64=DIR,aarch64=DIR [default: ${DEFAULT_INSTALLER_LINK} next to the inventory, for x86_64]`,
    )
    .option(
      "--http-port <port>",
      "HTTP port metal install will serve on",
      parsePort,
      DEFAULT_HTTP_PORT,
    )
    .addHelpText(
      "after",
      "\nExit codes:\n  0  everything is ready\n  2  a problem was found; each FAIL line says how to fix it",
    )
    .action(async (options: { inventory: string; installer?: string; httpPort: number }) => {
      const inventoryPath = resolve(options.inventory);
      let installerDirs;
      try {
        installerDirs = parseInstallerDirs(
          options.installer ?? join(dirname(inventoryPath), DEFAULT_INSTALLER_LINK),
        );
      } catch (error) {
        process.stderr.write(`metal check: ${(error as Error).message}\n`);
        process.exitCode = CONFIG_ERROR_EXIT_CODE;
        return;
      }
      const findings = await runChecks({
        inventoryPath,
        installerDir: installerDirs.x86_64 ?? Object.values(installerDirs)[0]!,
        installerDirs,
        httpPort: options.httpPort,
      });
      process.stdout.write(`${formatFindings(findings)}\n`);
      const problems = findings.filter((finding) => !finding.ok).length;
      process.stdout.write(
        problems === 0
          ? "ready to install\n"
          : `${problems} problem${problems === 1 ? "" : "s"} to fix\n`,
      );
      if (problems > 0) process.exitCode = CONFIG_ERROR_EXIT_CODE;
    });
}
