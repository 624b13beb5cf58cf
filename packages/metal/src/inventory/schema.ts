/**
 * The schema of `cluster.toml`, field by field. Each check's message is only the problem
 * ("is not a valid MAC address"); issues.ts adds where, the value and a good example.
 * Checks that span fields (duplicates, subnet membership, the one init server) live in
 * cross-checks.ts; they reuse the per-field schemas exported here.
 */
import { isMac, parseMac } from "netboot";
import { z } from "zod";
import { isIPv4, networkAddress, parseCidr } from "./ipv4.js";
import { DEFAULT_ROOT_SIZE } from "./partitions.js";
import { isSize } from "./size.js";

/** A refinement whose message is the problem; issues.ts adds where, the value and the fix. */
function checked<T extends z.ZodType>(
  schema: T,
  problem: string,
  check: (value: z.output<T>) => boolean,
) {
  return schema.refine(check, { message: problem });
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_DNS_NAME_LENGTH = 253;
const INTERFACE_NAME = /^[^\s/]{1,15}$/;
const PLAIN_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const DEV_PATH = /^\/dev\/[^\0]+$/;
const FLAG = /^--[A-Za-z0-9]/;
const REPO_URL = /^(https?:\/\/|ssh:\/\/|git@|git:\/\/)\S+$/;
const MAX_PARALLEL = 64;
const MAX_RETRIES = 20;

export function isDnsLabel(text: string): boolean {
  return DNS_LABEL.test(text);
}

const dnsLabel = () => checked(z.string(), "is not a valid DNS label", isDnsLabel);

const ipv4 = () => checked(z.string(), "is not an IPv4 address", isIPv4);

/** A BMC is reached by IPv4 address or DNS name (ipmitool -H takes either). */
const bmcAddress = () =>
  checked(
    z.string(),
    "is not an IPv4 address or DNS name",
    (text) =>
      isIPv4(text) ||
      (text.length <= MAX_DNS_NAME_LENGTH &&
        !/^[\d.]+$/.test(text) &&
        text.split(".").every(isDnsLabel)),
  );

export const POWER_DRIVERS = ["wol", "ipmi"] as const;

/** `power = { driver = "ipmi", address = "…" }`; cross-checks.ts pairs driver and address. */
export const powerSchema = z.strictObject({
  driver: z.enum(POWER_DRIVERS),
  address: bmcAddress().optional(),
});

const diskoSize = () =>
  checked(z.string(), "is not a size in disko notation", (text) => isSize(text));

export const clusterSchema = z.strictObject({
  name: dnsLabel(),
  domain: checked(
    z.string(),
    "is not a valid DNS name",
    (text) => text.length <= MAX_DNS_NAME_LENGTH && text.split(".").every(isDnsLabel),
  ),
  flake: checked(z.string(), "is not a flake reference", (text) => /^[^\s#]+$/.test(text)).default(
    ".",
  ),
  gitops_repo: checked(z.string(), "is not a repository URL", (text) =>
    REPO_URL.test(text),
  ).optional(),
});

export const subnetSchema = checked(
  checked(z.string(), "is not in CIDR notation", (text) => !!parseCidr(text)),
  "has host bits set: it is not a network address",
  (text) => {
    const cidr = parseCidr(text);
    return cidr !== undefined && networkAddress(cidr) === cidr.address;
  },
);

export const networkSchema = z.strictObject({
  interface: checked(z.string(), "is not an interface name", (text) => INTERFACE_NAME.test(text)),
  subnet: subnetSchema,
  gateway: ipv4(),
  dns: checked(z.array(ipv4()), "is empty", (list) => list.length > 0),
  vip: ipv4(),
});

export const k3sSchema = z
  .strictObject({
    disable: z
      .array(checked(z.string(), "is not a component name", (text) => /^[a-z0-9-]+$/.test(text)))
      .default(["traefik", "servicelb"]),
    extra_flags: z
      .array(checked(z.string(), "is not a flag starting with --", (text) => FLAG.test(text)))
      .default([]),
  })
  .prefault({});

export const installSchema = z
  .strictObject({
    root_size: diskoSize().default(DEFAULT_ROOT_SIZE),
    parallel: checked(z.int(), "is out of range", (n) => n >= 1 && n <= MAX_PARALLEL).default(3),
    retries: checked(z.int(), "is out of range", (n) => n >= 0 && n <= MAX_RETRIES).default(2),
    command: checked(
      z.array(z.string()),
      "is empty",
      (argv) => argv.length > 0 && argv[0] !== "",
    ).optional(),
  })
  .prefault({});

/** Host fields one by one: cross-checks parse single fields of hosts that failed elsewhere. */
export const hostFields = {
  name: dnsLabel(),
  mac: checked(z.string(), "is not a valid MAC address", isMac).transform((text) => parseMac(text)),
  ip: checked(
    z.string(),
    "is not an IPv4 address with a prefix length",
    (text) => !!parseCidr(text),
  ).transform((text) => parseCidr(text)!),
  role: z.enum(["server", "agent"]),
  init: z.boolean().default(false),
  disk: checked(
    z.string(),
    "is not an absolute path under /dev",
    (text) => DEV_PATH.test(text) && !text.split("/").includes(".."),
  ),
  arch: z.enum(["x86_64", "aarch64"]).default("x86_64"),
  first_stage: checked(z.string(), "is not a plain file name", (text) =>
    PLAIN_FILE_NAME.test(text),
  ).optional(),
  root_size: diskoSize().optional(),
  interface: checked(z.string(), "is not an interface name", (text) =>
    INTERFACE_NAME.test(text),
  ).optional(),
  power: powerSchema.optional(),
};

export const hostSchema = z.strictObject(hostFields);

export const labMachineSchema = z.strictObject({
  host: z.string(),
  firmware: z.enum(["uefi", "bios"]),
  boot: z.enum(["pxe", "http"]).default("pxe"),
  disk_size: checked(z.string(), "is not a QEMU disk size", (text) =>
    isSize(text, ["M", "G", "T"]),
  ).default("4G"),
  memory: checked(z.string(), "is not a QEMU memory size", (text) =>
    isSize(text, ["M", "G"]),
  ).default("512M"),
  bmc: z.enum(["ipmi"]).optional(),
});

export const labSchema = z.strictObject({ machines: z.array(labMachineSchema) });

export const inventorySchema = z.strictObject({
  cluster: clusterSchema,
  network: networkSchema,
  k3s: k3sSchema,
  install: installSchema,
  hosts: z.array(hostSchema).default([]),
  lab: labSchema.optional(),
});

export type InventoryDocument = z.output<typeof inventorySchema>;
