/**
 * Per-host settings: the contract with the Nix side. nix/lib/host-settings.nix derives exactly
 * this JSON from the same cluster.toml, and a test compares both for the example inventories,
 * so key names, order of flags and nulls here are part of the contract.
 */
import { ESP_SIZE } from "./partitions.js";
import type { Host, HostArch, Inventory, Role } from "./types.js";

export interface PartitionSettings {
  readonly name: "ESP" | "root" | "ceph";
  readonly size: string;
  /** sgdisk type code: EF00 EFI system, 8300 Linux file system. */
  readonly type: "EF00" | "8300";
  readonly format: "vfat" | "ext4" | null;
  readonly mountpoint: "/boot" | "/" | null;
  readonly partlabel: string;
}

export interface K3sSettings {
  readonly role: Role;
  readonly clusterInit: boolean;
  readonly serverAddr: string | null;
  readonly extraFlags: readonly string[];
}

export interface HostSettings {
  readonly name: string;
  readonly fqdn: string;
  readonly mac: string;
  readonly address: string;
  readonly prefixLength: number;
  readonly gateway: string;
  readonly dns: readonly string[];
  readonly interface: string | null;
  readonly role: Role;
  readonly init: boolean;
  readonly arch: HostArch;
  readonly disk: string;
  readonly partitions: readonly PartitionSettings[];
  readonly k3s: K3sSettings;
}

const K3S_API_PORT = 6443;
/** disko names partitions `disk-<disk name>-<partition name>`; our one disk is `main`. */
const PARTLABEL_PREFIX = "disk-main-";

function partitions(host: Host): PartitionSettings[] {
  return [
    {
      name: "ESP",
      size: ESP_SIZE,
      type: "EF00",
      format: "vfat",
      mountpoint: "/boot",
      partlabel: `${PARTLABEL_PREFIX}ESP`,
    },
    {
      name: "root",
      size: host.rootSize,
      type: "8300",
      format: "ext4",
      mountpoint: "/",
      partlabel: `${PARTLABEL_PREFIX}root`,
    },
    {
      name: "ceph",
      size: "100%",
      type: "8300",
      format: null,
      mountpoint: null,
      partlabel: `${PARTLABEL_PREFIX}ceph`,
    },
  ];
}

function k3s(inventory: Inventory, host: Host): K3sSettings {
  const nodeIp = `--node-ip=${host.address}`;
  const extraFlags =
    host.role === "server"
      ? [
          `--tls-san=${inventory.network.vip}`,
          nodeIp,
          ...inventory.k3s.disable.map((component) => `--disable=${component}`),
          ...inventory.k3s.extraFlags,
        ]
      : [nodeIp];
  return {
    role: host.role,
    clusterInit: host.init,
    serverAddr: host.init ? null : `https://${inventory.network.vip}:${K3S_API_PORT}`,
    extraFlags,
  };
}

export function hostSettings(inventory: Inventory): Record<string, HostSettings> {
  return Object.fromEntries(
    inventory.hosts.map((host): [string, HostSettings] => [
      host.name,
      {
        name: host.name,
        fqdn: `${host.name}.${inventory.cluster.domain}`,
        mac: host.mac,
        address: host.address,
        prefixLength: host.prefixLength,
        gateway: inventory.network.gateway,
        dns: inventory.network.dns,
        interface: host.interface ?? null,
        role: host.role,
        init: host.init,
        arch: host.arch,
        disk: host.disk,
        partitions: partitions(host),
        k3s: k3s(inventory, host),
      },
    ]),
  );
}
