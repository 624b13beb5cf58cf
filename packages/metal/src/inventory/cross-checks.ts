/**
 * Checks that span fields: duplicates, subnet membership, the one init server, lab machines that
 * name real hosts. They run on the raw document even when some fields failed the schema, using
 * every field that is valid on its own, so one run reports every problem.
 */
import type { InventoryIssue } from "./errors.js";
import { expectation } from "./fields.js";
import { fieldIssue, hostLabel, isRecord, labMachineLabel } from "./issues.js";
import { broadcastAddress, inSubnet, parseCidr, type Cidr } from "./ipv4.js";
import { DEFAULT_ROOT_SIZE, requiredDiskBytes } from "./partitions.js";
import { hostFields, labMachineSchema, networkSchema, subnetSchema } from "./schema.js";
import { formatBytes, sizeBytes } from "./size.js";

type Raw = Record<string, unknown>;

function record(value: unknown): Raw {
  return isRecord(value) ? value : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The field's parsed value when it is valid on its own, else undefined. */
function valid<T>(
  schema: { safeParse(v: unknown): { success: boolean; data?: T } },
  value: unknown,
): T | undefined {
  const result = schema.safeParse(value);
  return result.success ? result.data : undefined;
}

interface HostView {
  readonly label: string;
  readonly name: string | undefined;
  readonly mac: string | undefined;
  readonly ip: Cidr | undefined;
  readonly role: "server" | "agent" | undefined;
  readonly init: boolean;
  readonly rootSize: string | undefined;
  readonly raw: Raw;
}

function hostViews(root: Raw): HostView[] {
  return list(root.hosts).map((entry, index) => {
    const raw = record(entry);
    return {
      label: hostLabel(raw, index),
      name: valid(hostFields.name, raw.name),
      mac: valid(hostFields.mac, raw.mac),
      ip: valid(hostFields.ip, raw.ip),
      role: valid(hostFields.role, raw.role),
      init: valid(hostFields.init, raw.init) ?? false,
      rootSize: valid(hostFields.root_size, raw.root_size),
      raw,
    };
  });
}

function duplicates(
  hosts: readonly HostView[],
  key: (host: HostView) => string | undefined,
  field: "name" | "mac" | "ip",
): InventoryIssue[] {
  const firstByKey = new Map<string, HostView>();
  const issues: InventoryIssue[] = [];
  for (const host of hosts) {
    const value = key(host);
    if (value === undefined) continue;
    const first = firstByKey.get(value);
    if (first) {
      issues.push(
        fieldIssue(
          host.label,
          field,
          host.raw[field],
          `is already used by ${first.label}`,
          `hosts[].${field}`,
        ),
      );
    } else firstByKey.set(value, host);
  }
  return issues;
}

function addressChecks(hosts: readonly HostView[], network: Raw): InventoryIssue[] {
  const subnetText = valid(subnetSchema, network.subnet);
  const subnet = subnetText === undefined ? undefined : parseCidr(subnetText);
  const gateway = valid(networkSchema.shape.gateway, network.gateway);
  const vip = valid(networkSchema.shape.vip, network.vip);
  const issues: InventoryIssue[] = [];
  if (!subnet) return issues;

  const outside = `is outside network.subnet ${subnetText}`;
  if (gateway !== undefined && !inSubnet(gateway, subnet)) {
    issues.push(fieldIssue("network", "gateway", gateway, outside, "network.gateway"));
  }
  if (vip !== undefined && !inSubnet(vip, subnet)) {
    issues.push(fieldIssue("network", "vip", vip, outside, "network.vip"));
  }
  if (vip !== undefined && vip === gateway) {
    issues.push(fieldIssue("network", "vip", vip, "is the gateway's address", "network.vip"));
  }
  const reserved = new Set([subnet.address, broadcastAddress(subnet)]);
  for (const host of hosts) {
    if (!host.ip) continue;
    const text = host.raw.ip;
    if (!inSubnet(host.ip.address, subnet)) {
      issues.push(fieldIssue(host.label, "ip", text, outside, "hosts[].ip"));
    } else if (host.ip.prefixLength !== subnet.prefixLength) {
      issues.push(
        fieldIssue(
          host.label,
          "ip",
          text,
          `has prefix length /${host.ip.prefixLength} but network.subnet ${subnetText} has /${subnet.prefixLength}`,
          "hosts[].ip",
        ),
      );
    } else if (reserved.has(host.ip.address)) {
      issues.push(
        fieldIssue(
          host.label,
          "ip",
          text,
          "is the subnet's network or broadcast address",
          "hosts[].ip",
        ),
      );
    }
    if (host.ip.address === vip) {
      issues.push(
        fieldIssue(
          host.label,
          "ip",
          text,
          "is network.vip, the control-plane address",
          "hosts[].ip",
        ),
      );
    }
    if (host.ip.address === gateway) {
      issues.push(
        fieldIssue(
          host.label,
          "ip",
          text,
          "is network.gateway, the router's address",
          "hosts[].ip",
        ),
      );
    }
  }
  return issues;
}

function roleChecks(hosts: readonly HostView[]): InventoryIssue[] {
  const issues: InventoryIssue[] = [];
  if (hosts.length === 0) {
    return [
      {
        where: "inventory",
        field: "hosts",
        message: "inventory: no [[hosts]] (add at least one server, see examples/homelab.toml)",
      },
    ];
  }
  const inits = hosts.filter((host) => host.init);
  for (const host of inits) {
    if (host.role === "agent") {
      issues.push(
        fieldIssue(
          host.label,
          "init",
          true,
          'is only allowed on a server (role is "agent")',
          "hosts[].init",
        ),
      );
    }
  }
  if (!hosts.some((host) => host.role === "server")) {
    issues.push({
      where: "inventory",
      field: "hosts",
      message:
        'inventory: no host has role "server" (k3s needs at least one; set role = "server" on one host)',
    });
  }
  if (inits.length === 0) {
    issues.push({
      where: "inventory",
      field: "hosts",
      message:
        "inventory: no server has init = true (exactly one server initialises the cluster; add init = true to one)",
    });
  } else if (inits.length > 1) {
    issues.push({
      where: "inventory",
      field: "hosts",
      message: `inventory: ${inits.length} hosts have init = true (${inits.map((h) => h.label).join(", ")}); exactly one server initialises the cluster: keep it on one`,
    });
  }
  return issues;
}

/** `power.address` goes with driver "ipmi" only, and "ipmi" cannot work without it. */
function powerChecks(hosts: readonly HostView[]): InventoryIssue[] {
  const issues: InventoryIssue[] = [];
  for (const host of hosts) {
    const power = valid(hostFields.power, host.raw.power);
    if (!power) continue;
    if (power.driver === "ipmi" && power.address === undefined)
      issues.push({
        where: host.label,
        field: "power.address",
        message: `${host.label}: power.address is missing: driver "ipmi" needs the BMC's address (${expectation("hosts[].power.address")})`,
      });
    if (power.driver === "wol" && power.address !== undefined)
      issues.push(
        fieldIssue(
          host.label,
          "power.address",
          power.address,
          'has no use with driver "wol" (Wake-on-LAN is a broadcast on network.interface)',
          "hosts[].power.address",
        ),
      );
  }
  return issues;
}

function labChecks(root: Raw, hosts: readonly HostView[]): InventoryIssue[] {
  const machines = list(record(root.lab).machines);
  const rawDefaultRoot = record(root.install).root_size;
  const defaultRoot =
    rawDefaultRoot === undefined ? DEFAULT_ROOT_SIZE : valid(hostFields.root_size, rawDefaultRoot);
  const seen = new Set<string>();
  const issues: InventoryIssue[] = [];
  machines.forEach((entry, index) => {
    const raw = record(entry);
    const label = labMachineLabel(raw, index);
    if (typeof raw.host !== "string") return;
    const host = hosts.find((candidate) => candidate.name === raw.host);
    if (!host) {
      issues.push(
        fieldIssue(label, "host", raw.host, "is not a host in [[hosts]]", "lab.machines[].host"),
      );
      return;
    }
    if (seen.has(raw.host)) {
      issues.push(
        fieldIssue(
          label,
          "host",
          raw.host,
          "has a second [[lab.machines]] entry",
          "lab.machines[].host",
        ),
      );
    }
    seen.add(raw.host);
    if (raw.bmc === "ipmi" && valid(hostFields.power, host.raw.power)?.driver !== "ipmi")
      issues.push(
        fieldIssue(
          label,
          "bmc",
          raw.bmc,
          `needs host "${raw.host}" to say power = { driver = "ipmi", address = "…" }: the simulated BMC listens on that address`,
          "lab.machines[].bmc",
        ),
      );
    if (raw.boot === "http" && raw.firmware !== "uefi")
      issues.push(
        fieldIssue(
          label,
          "boot",
          raw.boot,
          'needs firmware = "uefi": SeaBIOS has no HTTP boot (use boot = "pxe")',
          "lab.machines[].boot",
        ),
      );
    // An aarch64 host is an AAVMF machine (qemu-system-aarch64 `virt`) PXE-booting with the
    // firmware's own PXE (ADR 0300): no SeaBIOS, no ISA bus for the simulated BMC's KCS device,
    // and HTTP boot through metal install is shown for OVMF only.
    if (host.raw.arch === "aarch64")
      for (const [field, value, allowed, fix] of [
        ["firmware", raw.firmware, "uefi", 'arm64 machines boot AAVMF: use firmware = "uefi"'],
        ["boot", raw.boot ?? "pxe", "pxe", 'the lab HTTP-boots OVMF only: use boot = "pxe"'],
        ["bmc", raw.bmc, undefined, "QEMU's virt board has no ISA bus for the BMC: leave bmc out"],
      ] as const)
        if (value !== allowed)
          issues.push(
            fieldIssue(
              label,
              field,
              value,
              `is not possible for aarch64 host "${raw.host}"; ${fix}`,
              `lab.machines[].${field}`,
            ),
          );
    const diskSize = valid(labMachineSchema.shape.disk_size, raw.disk_size);
    const rootSize = host.rootSize ?? defaultRoot;
    if (diskSize === undefined || rootSize === undefined) return;
    const needed = requiredDiskBytes(rootSize);
    if (sizeBytes(diskSize) < needed) {
      issues.push(
        fieldIssue(
          label,
          "disk_size",
          raw.disk_size ?? diskSize,
          `is smaller than the partitions need (${formatBytes(needed)}: ESP, root ${rootSize}, minimum Ceph partition)`,
          "lab.machines[].disk_size",
        ),
      );
    }
  });
  return issues;
}

export function crossChecks(root: Raw): InventoryIssue[] {
  const hosts = hostViews(root);
  return [
    ...duplicates(hosts, (host) => host.name, "name"),
    ...duplicates(hosts, (host) => host.mac, "mac"),
    ...duplicates(hosts, (host) => host.ip?.address, "ip"),
    ...addressChecks(hosts, record(root.network)),
    ...roleChecks(hosts),
    ...powerChecks(hosts),
    ...labChecks(root, hosts),
  ];
}
