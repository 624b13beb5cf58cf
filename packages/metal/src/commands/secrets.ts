/**
 * `metal secrets init | add-host HOST | rotate HOST`: the secrets model of docs/secrets.md.
 * The inventory loader is passed in so the commands can be driven with inventories built in code.
 */
import path from "node:path";
import type { Command } from "commander";
import { DEFAULT_INVENTORY_FILE } from "../inventory/load.js";
import type { Inventory } from "../inventory/types.js";
import { SopsFailedError } from "../secrets/errors.js";
import { REPO_PATHS, repoRootOf, resolveSecretsDir, SECRETS_DIR_ENV } from "../secrets/layout.js";
import { reconcileSecrets, type SecretsContext } from "../secrets/reconcile.js";
import { addHost, rotateHostKey } from "../secrets/rotate.js";
import { formatChanges, formatHostKeyReport, SECRETS_DIR_LABEL } from "../secrets/summary.js";

export type InventoryLoader = (file: string) => Inventory | Promise<Inventory>;

export interface SecretsCommandDeps {
  readonly loadInventory: InventoryLoader;
  /** Where sops is looked up (PATH) and run; the process environment by default. */
  readonly env?: NodeJS.ProcessEnv;
}

interface SecretsOptions {
  readonly inventory: string;
  readonly secretsDir: string | undefined;
}

/** Exit code for work that failed (sops refused); other errors are usage/config errors (2). */
const EXIT_WORK_FAILED = 1;

export function secretsCommand(deps: SecretsCommandDeps): (program: Command) => void {
  return (program) => {
    const secrets = program
      .command("secrets")
      .description(
        "SSH host keys, age recipients, .sops.yaml and sops-encrypted k3s secrets (docs/secrets.md)",
      );
    const withOptions = (command: Command) =>
      command
        .option("--inventory <file>", "the cluster inventory", DEFAULT_INVENTORY_FILE)
        .option(
          "--secrets-dir <dir>",
          `private keys (default: $${SECRETS_DIR_ENV}, else ~/.config/metal/<cluster>)`,
        );

    withOptions(secrets.command("init"))
      .description("make every missing key and encrypted secret; a rerun changes nothing")
      .action((options: SecretsOptions) =>
        run(deps, options, async (context) => {
          const changes = await reconcileSecrets(context);
          return [
            `metal secrets init:`,
            ...formatChanges(changes, context.secretsDir),
            ...nextSteps(context),
          ];
        }),
      );
    withOptions(secrets.command("add-host").argument("<host>", "a host newly in the inventory"))
      .description("give one new inventory host its key, recipient, rules and secrets file")
      .action((host: string, options: SecretsOptions) =>
        run(deps, options, async (context) => [
          ...formatHostKeyReport("add-host", await addHost(context, host), context.secretsDir),
          ...nextSteps(context),
        ]),
      );
    withOptions(secrets.command("rotate").argument("<host>", "the host whose SSH key to replace"))
      .description("replace a host's SSH host key and re-encrypt what it reads (sops updatekeys)")
      .action((host: string, options: SecretsOptions) =>
        run(deps, options, async (context) => [
          ...formatHostKeyReport("rotate", await rotateHostKey(context, host), context.secretsDir),
          `  the host still runs with its old key: reinstall it (metal install --reinstall ${host})`,
          `  or copy the new key to /etc/ssh/ssh_host_ed25519_key and deploy, then delete the .previous files`,
          ...nextSteps(context),
        ]),
      );
  };
}

async function run(
  deps: SecretsCommandDeps,
  options: SecretsOptions,
  work: (context: SecretsContext) => Promise<string[]>,
): Promise<void> {
  const env = deps.env ?? process.env;
  const inventory = await deps.loadInventory(path.resolve(options.inventory));
  const context: SecretsContext = {
    inventory,
    secretsDir: resolveSecretsDir(inventory, options.secretsDir, env),
    env,
  };
  try {
    process.stdout.write(`${(await work(context)).join("\n")}\n`);
  } catch (error) {
    if (!(error instanceof SopsFailedError)) throw error;
    process.stderr.write(`metal: ${error.message}\n`);
    process.exitCode = EXIT_WORK_FAILED;
  }
}

function nextSteps(context: SecretsContext): string[] {
  const repo = repoRootOf(context.inventory);
  const publicFiles = [REPO_PATHS.sopsConfig, "keys/", "secrets/"].join(" ");
  return [
    `${SECRETS_DIR_LABEL} = ${context.secretsDir} (private keys: back it up, never commit it)`,
    `commit in ${repo}: ${publicFiles}`,
  ];
}
