/**
 * The preflight: ONE list of everything `metal install` needs before it serves anything, each
 * finding naming what was checked, why it matters and the fix. `metal check` prints the list;
 * `metal install` runs the same list first and refuses to start while anything fails. The
 * checks only read and briefly bind; nothing is sent on the network.
 */
import { stat } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { dirname, join, relative } from "node:path";
import { execa } from "execa";
import { DEBIAN_FIRST_STAGES } from "netboot";
import which from "which";
import { installerArtifactProblems } from "../boot/installer-artifacts.js";
import { DEFAULT_INSTALL_COMMAND } from "../install/command-template.js";
import { InventoryError } from "../inventory/errors.js";
import { inSubnet, parseCidr } from "../inventory/ipv4.js";
import { loadInventory } from "../inventory/load.js";
import type { Inventory } from "../inventory/types.js";
import { hostsWithoutInstaller, type InstallerDirs } from "../boot/installer-dirs.js";
import type { Finding } from "../finding.js";
import { secretsFindings } from "../secrets/key-findings.js";
import { REPO_PATHS } from "../secrets/layout.js";
import { probePort, servicePorts } from "./ports.js";
import { canBindLowPorts, privilegeReport, type PrivilegeReport } from "./privileges.js";

export interface CheckOptions {
  readonly inventoryPath: string;
  readonly installerDir: string;
  /** Installers by architecture (ADR 0191); default: `installerDir` for x86_64 only. */
  readonly installerDirs?: InstallerDirs;
  readonly httpPort: number;
  /** Where the first-stage iPXE binaries come from (`--ipxe-dir`). */
  readonly ipxeDir: string;
  /** `--interface`, else the inventory's `network.interface`. */
  readonly interfaceName?: string | undefined;
  /** The private keys (`--secrets-dir` resolved); derived from the inventory when absent. */
  readonly secretsDir: (inventory: Inventory) => string;
}

type Interfaces = ReturnType<typeof networkInterfaces>;

function inventoryFindings(path: string, result: Inventory | InventoryError): Finding[] {
  if (result instanceof InventoryError) {
    return result.issues.map((issue) => ({
      ok: false,
      message: `inventory ${path}: ${issue.message}`,
      fix: `edit ${path} (reference: docs/inventory.md)`,
    }));
  }
  const servers = result.hosts.filter((host) => host.role === "server").length;
  const agents = result.hosts.length - servers;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return [
    {
      ok: true,
      message: `inventory ${path}: ${plural(result.hosts.length, "host")} (${plural(servers, "server")}, ${plural(agents, "agent")})`,
    },
  ];
}

export async function installerFindings(directory: string): Promise<Finding[]> {
  const problems = await installerArtifactProblems(directory);
  if (problems.length === 0)
    return [{ ok: true, message: `installer ${directory}: bzImage, initrd and cmdline present` }];
  return [
    {
      ok: false,
      message: `installer ${directory}: ${problems.join("; ")}`,
      fix: "build it with `nix build .#installer` (it makes ./result) or pass --installer DIR",
    },
  ];
}

/**
 * A host whose architecture has no installer would PXE-boot a kernel it cannot run, or nothing:
 * each one is a problem naming the host, its architecture and the fix (issue 12).
 */
export function architectureFindings(inventory: Inventory, dirs: InstallerDirs): Finding[] {
  return hostsWithoutInstaller(inventory, dirs).map(({ host, arch, fix }) => ({
    ok: false,
    message: `host ${host}: arch = "${arch}" but no ${arch} installer was given`,
    fix,
  }));
}

export function interfaceFindings(
  inventory: Inventory,
  interfaces: Interfaces,
  name: string = inventory.network.interface,
): Finding[] {
  const addresses = interfaces[name];
  if (!addresses) {
    return [
      {
        ok: false,
        message: `interface ${name} does not exist on this machine: proxyDHCP, TFTP and HTTP listen on it`,
        fix: `set network.interface (or pass --interface) to the NIC on the nodes' LAN; this machine has ${Object.keys(interfaces).join(", ")}`,
      },
    ];
  }
  const subnet = parseCidr(inventory.network.subnet)!;
  const ipv4 = addresses
    .filter((address) => address.family === "IPv4")
    .map((address) => address.address);
  const inside = ipv4.find((address) => inSubnet(address, subnet));
  if (!inside) {
    return [
      {
        ok: false,
        message: `interface ${name} has no address in ${inventory.network.subnet} (it has ${ipv4.join(", ") || "no IPv4 address"})`,
        fix: `connect ${name} to the nodes' LAN and let the router give it an address, or set network.interface (or --interface) to the NIC that has one`,
      },
    ];
  }
  return [{ ok: true, message: `interface ${name}: ${inside} in ${inventory.network.subnet}` }];
}

export function privilegeFindings(report: PrivilegeReport): Finding[] {
  if (canBindLowPorts(report)) {
    const how = report.root
      ? "running as root"
      : report.netBindService
        ? "CAP_NET_BIND_SERVICE"
        : "ip_unprivileged_port_start";
    return [{ ok: true, message: `privileges: may bind ports 67 and 69 (${how})` }];
  }
  return [
    {
      ok: false,
      message: "privileges: cannot bind ports below 1024 (DHCP 67, TFTP 69)",
      fix: 'run as root (sudo metal …), or grant node the capability: sudo setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v node)")"',
    },
  ];
}

export async function portFindings(httpPort: number, mayBindLowPorts: boolean): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const port of servicePorts(httpPort)) {
    const label = `port ${port.port}/${port.protocol} (${port.service})`;
    const error = await probePort(port);
    if (error === undefined) findings.push({ ok: true, message: `${label}: free` });
    else if (error === "EACCES" && !mayBindLowPorts)
      continue; // reported once by the privilege check
    else if (error === "EADDRINUSE") {
      findings.push({
        ok: false,
        message: `${label}: in use by another program`,
        fix: `find it with \`sudo ss -lunp 'sport = :${port.port}'\` (or -ltnp for TCP) and stop it${port.protocol === "tcp" ? ", or pick another port with --http-port" : " (a DHCP or TFTP server such as dnsmasq)"}`,
      });
    } else
      findings.push({
        ok: false,
        message: `${label}: cannot be bound (${error})`,
        fix: "see the error code; run as root",
      });
  }
  return findings;
}

/**
 * The first stages the proxyDHCP offer names (undionly.kpxe for BIOS, ipxe.efi for UEFI), as the
 * boot server will copy them: regular files, links followed (netboot's ipxe/stage.ts).
 */
export async function firstStageFindings(ipxeDir: string): Promise<Finding[]> {
  const found: string[] = [];
  const missing: string[] = [];
  for (const [firmware, name] of Object.entries(DEBIAN_FIRST_STAGES)) {
    const info = await stat(join(ipxeDir, name)).catch(() => undefined);
    (info?.isFile() && info.size > 0 ? found : missing).push(`${name} (${firmware})`);
  }
  const fix =
    "install iPXE's binaries (Debian: apt-get install ipxe; Nix: the devShell sets METAL_IPXE_DIR) " +
    "or pass --ipxe-dir DIR holding undionly.kpxe and ipxe.efi (docs/install.md)";
  if (found.length === 0)
    return [
      {
        ok: false,
        message: `first stages ${ipxeDir}: neither ${missing.join(" nor ")}; PXE firmware loads iPXE from there`,
        fix,
      },
    ];
  if (missing.length > 0)
    return [
      {
        ok: false,
        message: `first stages ${ipxeDir}: ${found.join(", ")} present, ${missing.join(", ")} missing; those machines cannot boot`,
        fix,
      },
    ];
  return [{ ok: true, message: `first stages ${ipxeDir}: ${found.join(", ")}` }];
}

/** The install command's program (nixos-anywhere unless install.command says otherwise). */
export async function installCommandFindings(inventory: Inventory): Promise<Finding[]> {
  const program = (inventory.install.command ?? DEFAULT_INSTALL_COMMAND)[0]!;
  const found = await which(program, { nothrow: true });
  if (found) return [{ ok: true, message: `install command: ${program} is ${found}` }];
  return [
    {
      ok: false,
      message: `install command: ${program} is not on PATH; every host is installed with it`,
      fix:
        program === DEFAULT_INSTALL_COMMAND[0]
          ? "enter the flake's devShell (`nix develop`), which has nixos-anywhere; under sudo keep that PATH: " +
            '`sudo env "PATH=$PATH" metal install`'
          : `install ${program} or fix install.command in the inventory`,
    },
  ];
}

/** Whether the install command builds from the flake (it names {flake}). */
function usesFlake(inventory: Inventory): boolean {
  return (inventory.install.command ?? DEFAULT_INSTALL_COMMAND).some((arg) =>
    arg.includes("{flake}"),
  );
}

/**
 * A flake in a git repository sees only the files git tracks: an untracked cluster.toml or key
 * makes Nix build something else than the inventory says (issue 10, item 9).
 */
export async function gitFindings(inventory: Inventory): Promise<Finding[]> {
  if (!usesFlake(inventory)) return [];
  const root = dirname(inventory.source);
  const inRepository = await execa("git", ["rev-parse", "--show-toplevel"], {
    cwd: root,
    reject: false,
  });
  if (inRepository.exitCode !== 0) return [];
  const wanted = [
    relative(root, inventory.source),
    dirname(REPO_PATHS.adminAgeRecipient),
    dirname(REPO_PATHS.clusterSecrets),
    REPO_PATHS.sopsConfig,
  ];
  const untracked = await execa("git", ["ls-files", "--others", "--", ...wanted], {
    cwd: root,
    reject: false,
  });
  const files = untracked.stdout.split("\n").filter((line) => line !== "");
  if (untracked.exitCode !== 0 || files.length > 0)
    return [
      {
        ok: false,
        message: `git in ${root}: not tracked: ${files.join(", ") || untracked.stderr.trim()}; the flake sees only files git tracks`,
        fix: `git add ${files.join(" ") || wanted.join(" ")} (in ${root}); committing is not needed`,
      },
    ];
  return [
    {
      ok: true,
      message: `git in ${root}: the inventory, keys and secrets the flake reads are tracked`,
    },
  ];
}

/** Every preflight check, in the order it is printed; install runs exactly this list first. */
export async function runChecks(options: CheckOptions): Promise<Finding[]> {
  const inventory = await loadInventory(options.inventoryPath).catch((error: unknown) => {
    if (error instanceof InventoryError) return error;
    throw error;
  });
  const privileges = await privilegeReport();
  const valid = inventory instanceof InventoryError ? undefined : inventory;
  const installers = options.installerDirs ?? { x86_64: options.installerDir };
  return [
    ...inventoryFindings(options.inventoryPath, inventory),
    ...(await Promise.all(Object.values(installers).map(installerFindings))).flat(),
    ...(await firstStageFindings(options.ipxeDir)),
    ...(valid
      ? [
          ...architectureFindings(valid, installers),
          ...interfaceFindings(valid, networkInterfaces(), options.interfaceName),
          ...(await secretsFindings(valid, options.secretsDir(valid))),
          ...(await installCommandFindings(valid)),
          ...(await gitFindings(valid)),
        ]
      : []),
    ...privilegeFindings(privileges),
    ...(await portFindings(options.httpPort, canBindLowPorts(privileges))),
  ];
}

/** `ok   …` / `FAIL …` lines with the fix under each problem. */
export function formatFindings(findings: readonly Finding[]): string {
  return findings
    .map((finding) =>
      finding.ok
        ? `ok    ${finding.message}`
        : `FAIL  ${finding.message}\n      fix: ${finding.fix ?? ""}`,
    )
    .join("\n");
}
