/**
 * `metal check`: the preflight list (check/checks.ts) that `metal install` also runs first, with
 * the same flags, so "ready to install" here means install will not refuse for these reasons.
 */
import type { Command } from "commander";
import { formatFindings, runChecks } from "../check/checks.js";
import {
  addPreflightOptions,
  checkOptions,
  CONFIG_ERROR_EXIT_CODE,
  type PreflightFlags,
} from "./options.js";

export function registerCheck(program: Command): void {
  addPreflightOptions(
    program
      .command("check")
      .description(
        "check everything metal install needs (inventory, installer and iPXE files, interface, keys, tools, git, ports, privileges)",
      ),
  )
    .addHelpText(
      "after",
      "\nExit codes:\n  0  everything is ready\n  2  a problem was found; each FAIL line says how to fix it",
    )
    .action(async (flags: PreflightFlags) => {
      const findings = await runChecks(checkOptions(flags));
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
