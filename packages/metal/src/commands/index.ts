import type { Command } from "commander";

/** Every subcommand's register function; add yours here (one line each). */
export const commands: ReadonlyArray<(program: Command) => void> = [];
