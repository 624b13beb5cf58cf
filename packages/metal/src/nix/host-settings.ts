/**
 * Per-host settings: what a host's NixOS configuration is built from, derived from the inventory.
 * This shape is the contract between the flake (nix/lib/host-settings.nix) and the CLI, which
 * derives the same settings from the same `cluster.toml`; docs/nix.md lists the rules.
 */
import type { HostArch, Role } from "../inventory/types.js";

export interface PartitionSettings {
  readonly name: string;
  /** disko size notation: `1G`, `64G`, or `100%` for the rest of the disk. */
  readonly size: string;
  /** sgdisk type code (`EF00` ESP, `8300` Linux). */
  readonly type: string;
  /** Filesystem, or null for a partition that is never formatted (the Ceph one). */
  readonly format: string | null;
  readonly mountpoint: string | null;
  /** GPT partition label, stable across installs: `/dev/disk/by-partlabel/<partlabel>`. */
  readonly partlabel: string;
}

export interface K3sSettings {
  readonly role: Role;
  readonly clusterInit: boolean;
  /** `https://<vip>:6443` for every node except the init server (null). */
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

export type HostSettingsByName = Readonly<Record<string, HostSettings>>;
