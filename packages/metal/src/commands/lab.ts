/**
 * `metal lab [up]`, `metal lab down`, and the lab's install command `metal lab install-host`
 * (hidden: `metal install` runs it through the lab inventory's command template).
 * docs/virtual-lab.md describes the lab.
 */
import path from "node:path";
import type { Command } from "commander";
import { labInstallHost } from "../lab/install-host.js";
import {
  DEFAULT_LAB_DIR,
  DEFAULT_LAB_INVENTORY,
  DEFAULT_NAMESPACE_PREFIX,
  labDown,
  labImages,
  labUp,
} from "../lab/lab-run.js";

const out = (line: string) => process.stdout.write(`${line}\n`);

interface UpFlags {
  readonly inventory: string;
  readonly workDir: string;
  readonly namespacePrefix: string;
  readonly downAfter?: boolean;
  readonly json?: boolean;
  readonly agent?: string;
}

export function registerLab(program: Command): void {
  const lab = program
    .command("lab")
    .description(
      "the virtual lab: QEMU machines in network namespaces installed by the real metal install",
    );
  const withCommon = (command: Command) =>
    command
      .option("--work-dir <dir>", "where the lab keeps its files", DEFAULT_LAB_DIR)
      .option(
        "--namespace-prefix <letters>",
        "network namespace name prefix (lab down removes every namespace with it)",
        DEFAULT_NAMESPACE_PREFIX,
      );

  withCommon(lab.command("up", { isDefault: true }))
    .description(
      "build the lab (3 machines: UEFI PXE, BIOS, UEFI HTTP boot), run metal install against it, keep it running",
    )
    .option("--inventory <file>", "the lab inventory", DEFAULT_LAB_INVENTORY)
    .option("--down-after", "remove the lab when metal install has finished")
    .option("--json", "metal install prints JSON lines instead of the progress view")
    .option("--agent <file>", "the callback agent script [default: nix/installer/metal-agent.sh]")
    .addHelpText(
      "after",
      "\nNeeds root (network namespaces, taps) and the Debian packages of scripts/bootstrap.sh.\n" +
        "Exit code: metal install's (0 all hosts ready, 1 a host failed, 2 configuration error).",
    )
    .action(async (flags: UpFlags) => {
      process.exitCode = await labUp({
        inventoryPath: path.resolve(flags.inventory),
        workDir: flags.workDir,
        namespacePrefix: flags.namespacePrefix,
        downAfter: flags.downAfter ?? false,
        json: flags.json ?? false,
        ...(flags.agent ? { agentFile: path.resolve(flags.agent) } : {}),
        out,
      });
    });

  withCommon(lab.command("down"))
    .description("stop the lab's machines, router and metal, and remove its namespaces")
    .option("--purge", "also remove the work directory (keys, images, state, logs)")
    .action(async (flags: { workDir: string; namespacePrefix: string; purge?: boolean }) => {
      await labDown({ ...flags, purge: flags.purge ?? false, out });
    });

  lab
    .command("install-host", { hidden: true })
    .description("the lab's install command: write a host's disk over SSH and reboot it")
    .requiredOption("--inventory <file>")
    .requiredOption("--lab-dir <dir>")
    .requiredOption("--host <name>")
    .requiredOption("--ip <address>")
    .requiredOption("--key <file>")
    .requiredOption("--known-hosts <file>")
    .requiredOption("--extra-files <dir>")
    .requiredOption("--work-dir <dir>")
    .action(
      async (flags: {
        inventory: string;
        labDir: string;
        host: string;
        ip: string;
        key: string;
        knownHosts: string;
        extraFiles: string;
        workDir: string;
      }) => {
        const labDir = path.resolve(flags.labDir);
        await labInstallHost({
          inventoryPath: flags.inventory,
          host: flags.host,
          ip: flags.ip,
          key: flags.key,
          knownHosts: flags.knownHosts,
          extraFiles: flags.extraFiles,
          workDir: flags.workDir,
          images: (arch) => labImages(labDir, arch),
          log: out,
        });
      },
    );
}
