/**
 * `metal deploy`: declares the flags, loads the inventory and hands over to deploy/from-flags.ts.
 */
import { Option, type Command } from "commander";
import { runDeployCommand, type DeployFlags } from "../deploy/from-flags.js";
import { REBOOT_MODES } from "../deploy/command-templates.js";
import { DEFAULT_DEPLOY_TIMING } from "../deploy/rollout.js";
import { DEFAULT_INVENTORY_FILE, loadInventory } from "../inventory/index.js";
import { DASHBOARD_FLAG_HELP, parseListenAddress } from "./options.js";

const MS_PER_SECOND = 1000;

export function registerDeploy(program: Command): void {
  program
    .command("deploy")
    .description(
      "Roll the flake's NixOS configuration out to the cluster: build every node's system first, " +
        "then servers one at a time (init server last) and agents in batches; cordon, drain, " +
        "nixos-rebuild, confirm, wait Ready, uncordon. A node not Ready or unreachable after its " +
        "switch is rolled back and uncordoned. Stops at the first failure; a rerun resumes. A " +
        "Kubernetes Lease keeps two deploys apart. See docs/deploy.md",
    )
    .argument("[hosts...]", "inventory hosts to deploy (default: all)")
    .option("--inventory <file>", "the inventory", DEFAULT_INVENTORY_FILE)
    .option("--state <dir>", "state directory (default: .metal beside the inventory)")
    .option("--dry-run", "print the plan and every command; change nothing", false)
    .option("--parallel <n>", "agents deployed at once (servers: always one)", "1")
    .addOption(
      new Option("--reboot <mode>", "reboot when the kernel/initrd changed, always, or never")
        .choices(REBOOT_MODES)
        .default("auto"),
    )
    .option("--kubeconfig <file>", "reach the API with this kubeconfig instead of an SSH tunnel")
    .option(
      "--known-hosts <file>",
      "SSH host keys to trust (default: the host keys in the secrets directory)",
    )
    .option("--identity <file>", "SSH private key for root (default: the secrets' admin key)")
    .option(
      "--secrets-dir <dir>",
      "metal secrets directory (default: $METAL_SECRETS_DIR, ~/.config/metal/CLUSTER)",
    )
    .option("--commands <file>", "JSON object replacing command templates (docs/deploy.md)")
    .option(
      "--drain-timeout <seconds>",
      "how long a drain may take",
      String(DEFAULT_DEPLOY_TIMING.drainTimeoutMs / MS_PER_SECOND),
    )
    .option(
      "--ready-timeout <seconds>",
      "how long a node may take to come back Ready",
      String(DEFAULT_DEPLOY_TIMING.readyTimeoutMs / MS_PER_SECOND),
    )
    .option(
      "--confirm-timeout <seconds>",
      "a switched node rolls itself back unless metal reaches it again within this time",
      String(DEFAULT_DEPLOY_TIMING.confirmTimeoutMs / MS_PER_SECOND),
    )
    .option("--force", "kubectl drain --force: also evict pods no controller recreates", false)
    .option(
      "--delete-emptydir-data",
      "kubectl drain --delete-emptydir-data: also evict pods whose emptyDir data is lost",
      false,
    )
    .option("--json", "one JSON event a line instead of text", false)
    .option("--dashboard [host:port]", DASHBOARD_FLAG_HELP, parseListenAddress)
    .addHelpText(
      "after",
      `
Exit codes:
  0  every planned node deployed (or the dry run printed)
  1  a step failed (maybe halfway): the report names node, step, error, what was rolled
     back and how to resume
  2  refused before changing anything: usage or inventory error, another deploy running`,
    )
    .action(async (hosts: string[], flags: DeployFlags & { inventory: string }) => {
      const inventory = await loadInventory(flags.inventory);
      process.exitCode = await runDeployCommand(inventory, hosts, flags, {
        write: (text) => process.stdout.write(text),
      });
    });
}
