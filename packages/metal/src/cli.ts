#!/usr/bin/env node
/**
 * The `metal` command. Each subcommand lives in commands/<name>.ts and registers itself here;
 * this file only assembles the program and maps errors to exit codes.
 */
import { readFileSync } from "node:fs";
import { Command, type CommanderError } from "commander";
import { commands } from "./commands/index.js";
import { describeError, EXIT_CODES, exitCodeFor } from "./errors.js";

/** The package's own version, from src/ and dist/ alike (package.json sits one level up). */
const { version } = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
) as { version: string };

const program = new Command("metal")
  .description("A homelab that installs itself: bare metal to a NixOS + k3s cluster")
  .version(version, "-V, --version", "print the version of metal and exit")
  .showHelpAfterError()
  .addHelpText(
    "after",
    `
Exit codes:
  0  success
  1  the work failed (a host failed to install, a deploy step failed); the output names it
  2  usage or configuration error (bad flags, invalid inventory); nothing was changed`,
  );

for (const register of commands) register(program);

/** Commander exits 1 on bad flags; our documented code for usage errors is 2. */
function exitOnUsageError(error: CommanderError): never {
  process.exit(error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.refused);
}

// Subcommands built with `new Command` and addCommand do not inherit the override: set it on all.
(function overrideExits(command: Command): void {
  command.exitOverride(exitOnUsageError);
  for (const sub of command.commands) overrideExits(sub);
})(program);

// The one place errors become exit codes (src/errors.ts, ADR 0212).
program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`metal: ${describeError(error)}\n`);
  process.exitCode = exitCodeFor(error);
});
