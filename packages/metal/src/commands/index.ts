import type { Command } from "commander";
import { loadInventory } from "../inventory/load.js";
import { registerCheck } from "./check.js";
import { registerInstall } from "./install.js";
import { registerLab } from "./lab.js";
import { secretsCommand } from "./secrets.js";
import { registerDeploy } from "./deploy.js";
import { registerStatus } from "./status.js";
import { registerPower } from "./power.js";
import { registerReinstall } from "./reinstall.js";

/** Every subcommand's register function; add yours here (one line each). */
export const commands: ReadonlyArray<(program: Command) => void> = [
  registerCheck,
  registerStatus,
  registerInstall,
  registerLab,
  secretsCommand({ loadInventory }),
  registerDeploy,
  registerPower,
  registerReinstall,
];
