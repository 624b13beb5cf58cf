#!/usr/bin/env node
/** The `netboot` command: a small pixiecore-like front end to the library. */
import { Command, type CommanderError } from "commander";
import { EXIT_USAGE, serveCommand } from "./cli/serve.js";
import { packageVersion } from "./cli/version.js";

/** Commander exits 1 on bad flags; our documented code for usage errors is 2. */
function exitOnUsageError(error: CommanderError): never {
  process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
}

const program = new Command("netboot")
  .description("Network-boot machines over PXE, iPXE and UEFI HTTP boot (proxyDHCP, TFTP, HTTP)")
  .version(packageVersion(), "-V, --version", "print the netboot version and exit")
  .showHelpAfterError()
  .exitOverride(exitOnUsageError)
  .addCommand(serveCommand().exitOverride(exitOnUsageError));

await program.parseAsync(process.argv);
