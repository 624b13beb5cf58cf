/**
 * `metal check`: everything `metal install` needs before it starts, each finding with its fix.
 * The checks only read and briefly bind; nothing is sent on the network.
 */
import { networkInterfaces } from "node:os";
import { installerArtifactProblems } from "../boot/installer-artifacts.js";
import { InventoryError } from "../inventory/errors.js";
import { inSubnet, parseCidr } from "../inventory/ipv4.js";
import { loadInventory } from "../inventory/load.js";
import type { Inventory } from "../inventory/types.js";
import { hostsWithoutInstaller, type InstallerDirs } from "./installer-dirs.js";
import { probePort, servicePorts } from "./ports.js";
import { canBindLowPorts, privilegeReport, type PrivilegeReport } from "./privileges.js";

export interface Finding {
  readonly ok: boolean;
  /** What was checked and what was found. */
  readonly message: string;
  /** How to fix it; only on problems. */
  readonly fix?: string;
}

export interface CheckOptions {
  readonly inventoryPath: string;
  readonly installerDir: string;
  /** Installers by architecture (ADR 0191); default: `installerDir` for x86_64 only. */
  readonly installerDirs?: InstallerDirs;
  readonly httpPort: number;
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

export function interfaceFindings(inventory: Inventory, interfaces: Interfaces): Finding[] {
  const name = inventory.network.interface;
  const addresses = interfaces[name];
  if (!addresses) {
    return [
      {
        ok: false,
        message: `interface ${name} (network.interface) does not exist on this machine`,
        fix: `set network.interface to the NIC on the nodes' LAN; this machine has ${Object.keys(interfaces).join(", ")}`,
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
        fix: `connect ${name} to the nodes' LAN and let the router give it an address, or set network.interface to the NIC that has one`,
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

export async function runChecks(options: CheckOptions): Promise<Finding[]> {
  const inventory = await loadInventory(options.inventoryPath).catch((error: unknown) => {
    if (error instanceof InventoryError) return error;
    throw error;
  });
  const privileges = await privilegeReport();
  const installers = options.installerDirs ?? { x86_64: options.installerDir };
  return [
    ...inventoryFindings(options.inventoryPath, inventory),
    ...(await Promise.all(Object.values(installers).map(installerFindings))).flat(),
    ...(inventory instanceof InventoryError
      ? []
      : [
          ...architectureFindings(inventory, installers),
          ...interfaceFindings(inventory, networkInterfaces()),
        ]),
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
