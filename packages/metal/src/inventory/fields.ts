/**
 * The field reference of `cluster.toml`: for every key the schema knows, its type, default, rule
 * and a good example. Error messages take their "expected …, e.g. …" part from here, and a test
 * keeps this table, the schema and docs/inventory.md in step.
 */
export interface FieldDoc {
  readonly type: string;
  /** Shown as the default; undefined means the field is required. */
  readonly default?: string;
  /** What a valid value is, phrased to follow "expected". */
  readonly rule: string;
  readonly example: string;
}

/** Keys are dotted TOML paths; `[]` marks an array of tables (`[[hosts]]`). */
export const FIELDS = {
  "cluster.name": {
    type: "string",
    rule: "a DNS label: lower-case letters, digits and inner hyphens, at most 63 characters",
    example: "homelab",
  },
  "cluster.domain": {
    type: "string",
    rule: "a DNS name made of DNS labels separated by dots",
    example: "home.arpa",
  },
  "cluster.flake": {
    type: "string",
    default: '"."',
    rule: "a flake reference (path or URL) without a `#` attribute",
    example: ".",
  },
  "cluster.gitops_repo": {
    type: "string",
    default: "none",
    rule: "an http(s), ssh or git URL of the repository ArgoCD syncs",
    example: "https://github.com/me/homelab-gitops.git",
  },
  "network.interface": {
    type: "string",
    rule: "the name of a network interface of the admin machine (1–15 characters, no `/` or spaces)",
    example: "enp3s0",
  },
  "network.subnet": {
    type: "string",
    rule: "an IPv4 network in CIDR notation with the host bits zero",
    example: "192.168.1.0/24",
  },
  "network.gateway": {
    type: "string",
    rule: "an IPv4 address inside network.subnet",
    example: "192.168.1.1",
  },
  "network.dns": {
    type: "string[]",
    rule: "one or more IPv4 addresses",
    example: '["192.168.1.1"]',
  },
  "network.vip": {
    type: "string",
    rule: "an IPv4 address inside network.subnet that no host uses",
    example: "192.168.1.40",
  },
  "k3s.disable": {
    type: "string[]",
    default: '["traefik", "servicelb"]',
    rule: "names of k3s packaged components (each becomes `--disable=NAME`)",
    example: '["traefik", "servicelb"]',
  },
  "k3s.extra_flags": {
    type: "string[]",
    default: "[]",
    rule: "k3s server flags, each starting with `--`",
    example: '["--write-kubeconfig-mode=0640"]',
  },
  "install.root_size": {
    type: "string",
    default: '"64G"',
    rule: "a size in disko notation: a whole number and a unit K, M, G or T (binary units)",
    example: "64G",
  },
  "install.parallel": {
    type: "integer",
    default: "3",
    rule: "a whole number from 1 to 64",
    example: "3",
  },
  "install.retries": {
    type: "integer",
    default: "2",
    rule: "a whole number from 0 to 20",
    example: "2",
  },
  "install.command": {
    type: "string[]",
    default: "nixos-anywhere (see below)",
    rule: "a non-empty argv template with `{placeholders}`",
    example: '["nixos-anywhere", "--flake", "{flake}#{host}", "--target-host", "root@{ip}"]',
  },
  "hosts[].name": {
    type: "string",
    rule: "a DNS label: lower-case letters, digits and inner hyphens, at most 63 characters",
    example: "node1",
  },
  "hosts[].mac": {
    type: "string",
    rule: "6 hex octets",
    example: "52:54:00:12:34:56",
  },
  "hosts[].ip": {
    type: "string",
    rule: "the host's static IPv4 address with the subnet's prefix length",
    example: "192.168.1.11/24",
  },
  "hosts[].role": {
    type: '"server" or "agent"',
    rule: '"server" (k3s control plane) or "agent" (worker)',
    example: "server",
  },
  "hosts[].init": {
    type: "boolean",
    default: "false",
    rule: "true on exactly one server: the one that initialises the cluster",
    example: "true",
  },
  "hosts[].disk": {
    type: "string",
    rule: "an absolute path under /dev, best a stable /dev/disk/by-id/ link",
    example: "/dev/disk/by-id/nvme-Samsung_SSD_980_500GB_S64DNF0R123456",
  },
  "hosts[].arch": {
    type: '"x86_64" or "aarch64"',
    default: '"x86_64"',
    rule: '"x86_64" or "aarch64"',
    example: "x86_64",
  },
  "hosts[].first_stage": {
    type: "string",
    default: "by firmware (undionly.kpxe, ipxe.efi)",
    rule: "a plain file name in the first-stage directory (no `/`)",
    example: "snponly.efi",
  },
  "hosts[].root_size": {
    type: "string",
    default: "install.root_size",
    rule: "a size in disko notation: a whole number and a unit K, M, G or T (binary units)",
    example: "100G",
  },
  "hosts[].interface": {
    type: "string",
    default: "none (the NIC that booted)",
    rule: "a NIC name on the host (1–15 characters, no `/` or spaces)",
    example: "enp1s0",
  },
  "hosts[].power.driver": {
    type: '"wol" or "ipmi"',
    default: 'no power table: "wol"',
    rule: '"wol" (Wake-on-LAN, power on only) or "ipmi" (the host\'s BMC, with ipmitool)',
    example: "ipmi",
  },
  "hosts[].power.address": {
    type: "string",
    default: "none",
    rule: 'the BMC\'s IPv4 address or DNS name; required with driver "ipmi", not allowed with "wol"',
    example: "192.168.1.111",
  },
  "lab.machines[].host": {
    type: "string",
    rule: "the name of a host in [[hosts]]",
    example: "node1",
  },
  "lab.machines[].firmware": {
    type: '"uefi" or "bios"',
    rule: '"uefi" (OVMF) or "bios" (SeaBIOS)',
    example: "uefi",
  },
  "lab.machines[].boot": {
    type: '"pxe" or "http"',
    default: '"pxe"',
    rule: '"pxe", or "http" for UEFI HTTP boot (firmware = "uefi" only: OVMF with its PXE off)',
    example: "http",
  },
  "lab.machines[].disk_size": {
    type: "string",
    default: '"4G"',
    rule: "a QEMU disk size: a whole number and a unit M, G or T, large enough for the partitions",
    example: "4G",
  },
  "lab.machines[].memory": {
    type: "string",
    default: '"512M"',
    rule: "a QEMU memory size: a whole number and a unit M or G",
    example: "512M",
  },
  "lab.machines[].bmc": {
    type: '"ipmi"',
    default: "none (Wake-on-LAN)",
    rule: '"ipmi": a simulated BMC (ipmi_sim) on the host\'s power.address powers the machine; the host needs power.driver "ipmi"',
    example: "ipmi",
  },
} as const satisfies Record<string, FieldDoc>;

export type FieldPath = keyof typeof FIELDS;

/** The "expected …, e.g. …" part every message about a field ends with. */
export function expectation(path: FieldPath): string {
  const doc: FieldDoc = FIELDS[path];
  return `expected ${doc.rule}, e.g. ${doc.example}`;
}
