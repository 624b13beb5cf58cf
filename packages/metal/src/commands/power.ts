/**
 * `metal power <host> status|on|off|cycle`: the operator's remote hand on a host's power, through
 * the same driver `metal install` uses (docs/power.md). Wake-on-LAN hosts can only be powered on.
 */
import { resolve } from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { interfaceIpv4 } from "netboot";
import { DEFAULT_INVENTORY_FILE, loadInventory } from "../inventory/load.js";
import { createPowerDrivers } from "../power/drivers.js";
import { PowerCommandError, PowerError, PowerUnsupportedError } from "../power/errors.js";
import { resolveSecretsDir, SECRETS_DIR_ENV } from "../secrets/layout.js";

const ACTIONS = ["status", "on", "off", "cycle"] as const;
type PowerAction = (typeof ACTIONS)[number];

/** Exit codes beyond the CLI's 0/1/2: scripts can tell "off" from "could not ask". */
export const EXIT_POWER_OFF = 3;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const HELP = `
Exit codes:
  0  done (status: the host is on)
  1  the BMC refused or did not answer (the message names it and the fix)
  2  usage or configuration error: unknown host, no BMC credentials, or the driver cannot do it
     (Wake-on-LAN can only power on)
  3  status: the host is off

BMC user and password: SECRETS/hosts/HOST/bmc.json, mode 0600 (docs/power.md).`;

function parseAction(text: string): PowerAction {
  if (!(ACTIONS as readonly string[]).includes(text))
    throw new InvalidArgumentError(`"${text}" is not one of ${ACTIONS.join(", ")}`);
  return text as PowerAction;
}

export function registerPower(program: Command): void {
  program
    .command("power")
    .description("show or change a host's power through its power driver (BMC or Wake-on-LAN)")
    .argument("<host>", "a host of the inventory")
    .argument("<action>", ACTIONS.join(" | "), parseAction)
    .option("--inventory <file>", "the inventory", DEFAULT_INVENTORY_FILE)
    .option(
      "--secrets-dir <dir>",
      `BMC credentials live here [default: $${SECRETS_DIR_ENV}, else ~/.config/metal/<cluster>]`,
    )
    .addHelpText("after", HELP)
    .action(
      async (
        name: string,
        action: PowerAction,
        flags: { inventory: string; secretsDir?: string },
      ) => {
        const inventory = await loadInventory(resolve(flags.inventory));
        const host = inventory.hosts.find((candidate) => candidate.name === name);
        if (!host) {
          process.stderr.write(
            `metal power: no host "${name}" in ${inventory.source} (hosts: ${inventory.hosts.map((h) => h.name).join(", ")})\n`,
          );
          process.exitCode = EXIT_USAGE;
          return;
        }
        try {
          const driver = await createPowerDrivers({
            secretsDir: resolveSecretsDir(inventory, flags.secretsDir),
          })(host, {
            // Looked up only when a Wake-on-LAN packet is sent: a BMC needs no local interface.
            get broadcastAddress() {
              return interfaceIpv4(inventory.network.interface).broadcast;
            },
          });
          if (action === "status") {
            const state = await driver.status();
            process.stdout.write(`${host.name}: ${state}\n`);
            process.exitCode = state === "on" ? 0 : EXIT_POWER_OFF;
            return;
          }
          await driver[action]();
          process.stdout.write(`${host.name}: ${action} sent through ${driver.name}\n`);
        } catch (error) {
          if (!(error instanceof PowerError)) throw error;
          process.stderr.write(`metal power: ${error.message}\n`);
          process.exitCode =
            error instanceof PowerCommandError && !(error instanceof PowerUnsupportedError)
              ? EXIT_FAILED
              : EXIT_USAGE;
        }
      },
    );
}
