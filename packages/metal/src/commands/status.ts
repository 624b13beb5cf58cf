import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { DEFAULT_INVENTORY_FILE, loadInventory } from "../inventory/load.js";
import { STATE_FILE, readStateFile } from "../state/file-store.js";
import { defaultStateDir } from "../state/location.js";
import { readUnknownMachines } from "../boot/unknown-machines.js";
import { formatStatus, statusReport } from "../status/report.js";

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description(
      "show each host's phase, attempt and last step, and machines seen but not in the inventory",
    )
    .option("--inventory <file>", "the inventory", DEFAULT_INVENTORY_FILE)
    .option("--state <dir>", "state directory [default: .metal/ next to the inventory]")
    .option("--json", "print JSON instead of a table")
    .addHelpText(
      "after",
      "\nExit codes:\n  0  the state was shown\n  2  the inventory or the state file cannot be read",
    )
    .action(async (options: { inventory: string; state?: string; json?: boolean }) => {
      const inventoryPath = resolve(options.inventory);
      // Status also works from a state directory alone (no inventory at hand).
      const inventory =
        options.state && !existsSync(inventoryPath)
          ? undefined
          : await loadInventory(inventoryPath);
      const stateDir = resolve(options.state ?? defaultStateDir(inventoryPath));
      const report = statusReport(
        await readStateFile(join(stateDir, STATE_FILE)),
        inventory,
        (await readUnknownMachines(stateDir)).machines,
      );
      process.stdout.write(
        options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatStatus(report)}\n`,
      );
    });
}
