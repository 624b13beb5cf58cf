/**
 * `netboot serve`: the pixiecore-like front end. Boots every PXE client seen on an interface
 * (or only the listed MACs) into one kernel + initrds, logs one line per step per machine, and
 * stops cleanly on SIGINT/SIGTERM.
 */
import { access, constants } from "node:fs/promises";
import path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { ConfigError } from "../errors.js";
import { interfaceIpv4 } from "../interfaces.js";
import { DEBIAN_IPXE_DIR, DEFAULT_FIRST_STAGES } from "../ipxe/first-stage.js";
import { parseMac, type Mac } from "../mac.js";
import { staticPolicy, type BootSpec } from "../policy.js";
import { DEFAULT_HTTP_PORT, NetbootServer } from "../server.js";
import { createEventLogger } from "./event-logger.js";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

interface ServeFlags {
  readonly interface: string;
  readonly address?: string;
  readonly kernel: string;
  readonly initrd: string[];
  readonly cmdline: string;
  readonly httpPort: number;
  readonly ipxeDir: string;
  readonly mac: Mac[];
  readonly json: boolean;
  readonly verbose: boolean;
}

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535) {
    throw new InvalidArgumentError("expected a TCP port from 1 to 65535, e.g. 8080");
  }
  return parsed;
}

function mac(value: string, previous: Mac[] = []): Mac[] {
  try {
    return [...previous, parseMac(value)];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

async function readableFile(flag: string, file: string): Promise<string> {
  const absolute = path.resolve(file);
  try {
    await access(absolute, constants.R_OK);
  } catch {
    throw new ConfigError(`${flag} ${file}: no readable file there (check the path)`);
  }
  return absolute;
}

export function serveCommand(): Command {
  return new Command("serve")
    .description("boot every PXE client on an interface (or only the listed MACs) into a kernel")
    .requiredOption("-i, --interface <name>", "network interface facing the machines, e.g. enp3s0")
    .option(
      "--address <ipv4>",
      "address the machines reach this server at (default: the interface's first IPv4 address)",
    )
    .requiredOption("-k, --kernel <file>", "kernel to boot")
    .option("--initrd <file>", "initrd to load; repeat for several, loaded in order", collect, [])
    .option("-c, --cmdline <text>", "kernel command line", "")
    .addOption(
      new Option("--http-port <port>", "HTTP port for iPXE scripts and boot files")
        .argParser(port)
        .default(DEFAULT_HTTP_PORT),
    )
    .option(
      "--ipxe-dir <dir>",
      "directory of first-stage binaries (iPXE; grubnetaa64.efi for arm64)",
      DEBIAN_IPXE_DIR,
    )
    .option(
      "--mac <mac>",
      "only boot this MAC; repeat for several (default: every PXE client)",
      mac,
    )
    .option("--json", "log JSON lines instead of readable lines", false)
    .option("-v, --verbose", "also log every DHCP request and ignored packet", false)
    .addHelpText(
      "after",
      `
Needs root (or CAP_NET_BIND_SERVICE) for UDP ports 67, 69 and 4011. Answers only PXE clients
and never hands out addresses: the network's own DHCP server keeps doing that.

Exit codes:
  0  stopped by SIGINT or SIGTERM
  1  a server failed while running
  2  bad flags or configuration (missing file, unknown interface, port in use); nothing served`,
    )
    .action(async (flags: ServeFlags) => {
      process.exitCode = await serve(flags);
    });
}

async function serve(flags: ServeFlags): Promise<number> {
  const logger = createEventLogger({ json: flags.json, verbose: flags.verbose });
  let server: NetbootServer;
  try {
    const spec: BootSpec = {
      kernel: await readableFile("--kernel", flags.kernel),
      initrds: await Promise.all(flags.initrd.map((file) => readableFile("--initrd", file))),
      cmdline: flags.cmdline,
    };
    const address = flags.address ?? interfaceIpv4(flags.interface).address;
    await checkFirstStages(flags.ipxeDir);
    server = new NetbootServer({
      serverAddress: address,
      policy: staticPolicy(spec, new Set(flags.mac ?? [])),
      httpPort: flags.httpPort,
      firstStageDir: path.resolve(flags.ipxeDir),
    });
    server.events.on(logger.log);
    await server.start();
    logger.info(
      `serving on ${flags.interface} (${address}): HTTP ${server.httpUrl}, TFTP :69, proxyDHCP :67 and :4011; ` +
        `booting ${flags.mac?.length ? flags.mac.join(", ") : "every PXE client"}`,
    );
  } catch (error) {
    logger.error(error instanceof Error ? error.message : String(error));
    return error instanceof ConfigError ? EXIT_USAGE : EXIT_FAILURE;
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  logger.info(`${signal}: stopping`);
  await server.close();
  return EXIT_OK;
}

/** Fails early when no first stage exists at all, instead of at the first machine's boot. */
async function checkFirstStages(directory: string): Promise<void> {
  const names = Object.values(DEFAULT_FIRST_STAGES);
  const found = await Promise.all(
    names.map(async (file) => {
      try {
        await access(path.join(directory, file), constants.R_OK);
        return true;
      } catch {
        return false;
      }
    }),
  );
  if (!found.some(Boolean)) {
    throw new ConfigError(
      `--ipxe-dir ${directory}: none of ${names.join(", ")} is there ` +
        `(install Debian's ipxe package, or point --ipxe-dir at your first-stage binaries)`,
    );
  }
}
