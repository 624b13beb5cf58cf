#!/usr/bin/env node
/**
 * The `metal` command. Each subcommand lives in commands/<name>.ts and registers itself here;
 * this file only assembles the program and maps errors to exit codes.
 */
import { Command } from "commander";
import { commands } from "./commands/index.js";

const program = new Command("metal")
  .description("A homelab that installs itself: bare metal to a NixOS + k3s cluster")
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

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`metal: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
});
