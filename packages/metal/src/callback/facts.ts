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

export const installerFactsSchema = z.object({
  agent: z.string().min(1),
  mac,
  ip,
  hostname: z.string().optional(),
  sshHostKey,
  firmware: z.enum(["uefi", "bios"]),
  memoryBytes: size,
  disks: z
    .array(
      z.object({
        name: z.string().min(1),
        path: z.string().startsWith("/dev/"),
        sizeBytes: size,
        model: z.string().optional(),
        serial: z.string().optional(),
        byId: z.array(z.string()).optional(),
      }),
    )
    .max(MAX_DISKS),
});

export const firstBootFactsSchema = z.object({ agent: z.string().min(1), mac, ip, sshHostKey });
export type FirstBootFacts = z.output<typeof firstBootFactsSchema>;

/** `disks[0].sizeBytes: expected number` style summary of a body that does not follow the protocol. */
export function describeBodyError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "body"}: ${issue.message}`)
    .join("; ");
}

/** Why the facts contradict the inventory, or undefined when they fit. */
export function factsMismatch(host: Host, facts: InstallerFacts): string | undefined {
  const disk = facts.disks.find(
    (candidate) => candidate.path === host.disk || candidate.byId?.includes(host.disk),
  );
  if (!disk) {
    const found = facts.disks.map(
      (d) =>
        `${d.path} (${formatBytes(d.sizeBytes)}${d.byId?.length ? `, ${d.byId.join(", ")}` : ""})`,
    );
    return (
      `host "${host.name}": configured disk ${host.disk} is not on this machine; it has ` +
      `${found.length > 0 ? found.join("; ") : "no disks"}. Fix hosts.disk in the inventory`
    );
  }
  const needed = requiredDiskBytes(host.rootSize);
  if (disk.sizeBytes < needed) {
    return (
      `host "${host.name}": disk ${host.disk} has ${formatBytes(disk.sizeBytes)}, less than the ` +
      `${formatBytes(needed)} the partitions need (ESP ${ESP_SIZE} + root ${host.rootSize} + ` +
      `${formatBytes(MIN_CEPH_BYTES)} minimum for Ceph + GPT). Use a bigger disk or a smaller root_size`
    );
  }
  return undefined;
}

/** Key type and base64 body: the comment (`root@nixos`) is not part of the key. */
export function sameSshKey(a: string, b: string): boolean {
  const [typeA, bodyA] = a.trim().split(/\s+/);
  const [typeB, bodyB] = b.trim().split(/\s+/);
  return typeA === typeB && bodyA === bodyB;
}
