import type { Command } from "commander";
import { registerCheck } from "./check.js";
import { registerInstall } from "./install.js";
import { registerLab } from "./lab.js";
import { registerStatus } from "./status.js";

/** Every subcommand's register function; add yours here (one line each). */
export const commands: ReadonlyArray<(program: Command) => void> = [
  registerCheck,
  registerStatus,
  registerInstall,
  registerLab,
];
