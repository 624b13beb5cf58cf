import type { Command } from "commander";
import { loadInventory } from "../inventory/load.js";
import { secretsCommand } from "./secrets.js";

/** Every subcommand's register function; add yours here (one line each). */
export const commands: ReadonlyArray<(program: Command) => void> = [
  secretsCommand({ loadInventory }),
];
