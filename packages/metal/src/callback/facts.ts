/**
 * The callback bodies (docs/callback-protocol.md §2 and §3) and the checks of an installer's
 * facts against the inventory: the MAC that booted, and the configured disk present and large
 * enough for ESP + root + the smallest worthwhile Ceph partition.
 */
import { isMac, parseMac } from "netboot";
import { z } from "zod";
import { isIPv4 } from "../inventory/ipv4.js";
import { ESP_SIZE, MIN_CEPH_BYTES, requiredDiskBytes } from "../inventory/partitions.js";
import { formatBytes } from "../inventory/size.js";
import type { Host } from "../inventory/types.js";
import type { InstallerFacts } from "../state/types.js";

const SSH_PUBLIC_KEY =
  /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}( .*)?$/;
const MAX_DISKS = 256;
/** Longest free-text field (agent, disk name, model, serial, by-id link) the protocol accepts. */
const MAX_TEXT_LENGTH = 256;
/** A by-id link list longer than this is not one disk's. */
const MAX_BY_ID_LINKS = 32;
/** RFC 1035 §2.3.4: a full domain name is at most 253 characters as text. */
const MAX_HOSTNAME_LENGTH = 253;
/** Body problems named in a 400 answer; the rest are counted. */
const MAX_REPORTED_ISSUES = 5;
/** Disks a disk-mismatch step lists for the operator; the rest are counted. */
const MAX_LISTED_DISKS = 4;

const mac = z
  .string()
  .refine(isMac, "is not a MAC address")
  .transform((text) => parseMac(text));
const ip = z.string().refine(isIPv4, "is not an IPv4 address");
const sshHostKey = z
  .string()
  .max(16_384)
  .refine((text) => SSH_PUBLIC_KEY.test(text.trim()), "is not an OpenSSH public key line");
const size = z.number().int().nonnegative();
const text = z.string().max(MAX_TEXT_LENGTH);
const agent = text.min(1);

export const installerFactsSchema = z.object({
  agent,
  mac,
  ip,
  hostname: z.string().max(MAX_HOSTNAME_LENGTH).optional(),
  sshHostKey,
  firmware: z.enum(["uefi", "bios"]),
  memoryBytes: size,
  disks: z
    .array(
      z.object({
        name: text.min(1),
        path: text.startsWith("/dev/"),
        sizeBytes: size,
        model: text.optional(),
        serial: text.optional(),
        byId: z.array(text).max(MAX_BY_ID_LINKS).optional(),
      }),
    )
    .max(MAX_DISKS),
});

export const firstBootFactsSchema = z.object({ agent, mac, ip, sshHostKey });
export type FirstBootFacts = z.output<typeof firstBootFactsSchema>;

/** `disks[0].sizeBytes: expected number` style summary of a body that does not follow the protocol. */
export function describeBodyError(error: z.ZodError): string {
  const named = error.issues
    .slice(0, MAX_REPORTED_ISSUES)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "body"}: ${issue.message}`);
  const more = error.issues.length - named.length;
  return [...named, ...(more > 0 ? [`${more} more`] : [])].join("; ");
}

/** Why facts contradict the inventory: `kind` is safe to tell the caller, `detail` is the operator's. */
export interface FactsMismatch {
  readonly kind: string;
  readonly detail: string;
}

/**
 * Why the facts contradict the inventory, or undefined when they fit. The detail lists at most
 * MAX_LISTED_DISKS of the machine's disks (paths only, each bounded by the schema).
 */
export function factsMismatch(host: Host, facts: InstallerFacts): FactsMismatch | undefined {
  const disk = facts.disks.find(
    (candidate) => candidate.path === host.disk || candidate.byId?.includes(host.disk),
  );
  if (!disk) {
    const listed = facts.disks
      .slice(0, MAX_LISTED_DISKS)
      .map((d) => `${d.path} (${formatBytes(d.sizeBytes)})`);
    const more = facts.disks.length - listed.length;
    const found = [...listed, ...(more > 0 ? [`${more} more`] : [])];
    return {
      kind: "the configured install disk is not on this machine",
      detail:
        `host "${host.name}": configured disk ${host.disk} is not on this machine; it has ` +
        `${found.length > 0 ? found.join("; ") : "no disks"}. Fix hosts.disk in the inventory`,
    };
  }
  const needed = requiredDiskBytes(host.rootSize);
  if (disk.sizeBytes < needed) {
    return {
      kind: "the configured install disk is too small",
      detail:
        `host "${host.name}": disk ${host.disk} has ${formatBytes(disk.sizeBytes)}, less than the ` +
        `${formatBytes(needed)} the partitions need (ESP ${ESP_SIZE} + root ${host.rootSize} + ` +
        `${formatBytes(MIN_CEPH_BYTES)} minimum for Ceph + GPT). Use a bigger disk or a smaller root_size`,
    };
  }
  return undefined;
}

/** Key type and base64 body: the comment (`root@nixos`) is not part of the key. */
export function sameSshKey(a: string, b: string): boolean {
  const [typeA, bodyA] = a.trim().split(/\s+/);
  const [typeB, bodyB] = b.trim().split(/\s+/);
  return typeA === typeB && bodyA === bodyB;
}
