import type { Command } from "commander";
import { registerDeploy } from "./deploy.js";

/** Every subcommand's register function; add yours here (one line each). */
export const commands: ReadonlyArray<(program: Command) => void> = [registerDeploy];
