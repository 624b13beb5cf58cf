/**
 * The validated inventory, as every part of metal sees it. `cluster.toml` is parsed and checked
 * by the schema in this folder; nothing else reads the file. Field names mirror the TOML keys
 * (snake_case there, camelCase here); docs/inventory.md is the reference.
 */
export type Role = "server" | "agent";
export type HostArch = "x86_64" | "aarch64";

export interface Host {
  readonly name: string;
  /** Canonical lower-case colon form. */
  readonly mac: string;
  /** IPv4 address without the prefix length. */
  readonly address: string;
  readonly prefixLength: number;
  readonly role: Role;
  /** The one server that initialises the cluster (k3s `clusterInit`). */
  readonly init: boolean;
  /** Install target, e.g. `/dev/disk/by-id/nvme-…` or `/dev/sda`. */
  readonly disk: string;
  readonly arch: HostArch;
  /** Per-machine first-stage binary override, e.g. `snponly.efi`. */
  readonly firstStage: string | undefined;
  /** Root partition size in disko notation (`64G`). */
  readonly rootSize: string;
  /** NIC name on the host, when the static address must go on a named interface. */
  readonly interface: string | undefined;
  /** How metal powers the machine (docs/power.md); absent means Wake-on-LAN. */
  readonly power?: HostPower | undefined;
}

export type HostPower =
  | { readonly driver: "wol" }
  | {
      readonly driver: "ipmi";
      /** The BMC's address (ipmitool -H); its user and password live in the secrets directory. */
      readonly address: string;
    };

export interface Inventory {
  /** Absolute path of the file this came from; relative paths inside resolve against its folder. */
  readonly source: string;
  readonly cluster: {
    readonly name: string;
    readonly domain: string;
    readonly flake: string;
    readonly gitopsRepo: string | undefined;
  };
  readonly network: {
    readonly interface: string;
    readonly subnet: string;
    readonly gateway: string;
    readonly dns: readonly string[];
    readonly vip: string;
  };
  readonly k3s: {
    readonly disable: readonly string[];
    readonly extraFlags: readonly string[];
  };
  readonly install: {
    readonly rootSize: string;
    readonly parallel: number;
    readonly retries: number;
    /** argv template with `{placeholders}`; see docs/inventory.md. */
    readonly command: readonly string[] | undefined;
  };
  readonly hosts: readonly Host[];
  /** The `[lab]` section, present only in inventories meant for the virtual lab. */
  readonly lab?: LabSettings | undefined;
}

export type LabFirmware = "uefi" | "bios";
/** How the lab machine network-boots: PXE (BIOS: iPXE ROM; UEFI: OVMF's PXE) or UEFI HTTP boot. */
export type LabBoot = "pxe" | "http";

/** A virtual lab machine (`[[lab.machines]]`): only `metal lab` reads these. */
export interface LabMachine {
  /** The inventory host this QEMU machine plays (its MAC and disk come from there). */
  readonly host: string;
  readonly firmware: LabFirmware;
  readonly boot: LabBoot;
  /** QEMU disk size, e.g. `4G`. */
  readonly diskSize: string;
  /** QEMU memory size, e.g. `512M`. */
  readonly memory: string;
  /** A simulated BMC (OpenIPMI's ipmi_sim) powers this machine instead of Wake-on-LAN. */
  readonly bmc: "ipmi" | undefined;
}

export interface LabSettings {
  readonly machines: readonly LabMachine[];
}
