/**
 * The whole state file as a schema: every nested field is checked when the file is read, so a
 * hand edit or a bad restore is refused with the field's path (`hosts.node1.tokens.installer.
 * attempt`) instead of surfacing later as a crash deep in the install flow. The schema describes
 * the stored shape only; what a callback may report is checked where it arrives
 * (callback/facts.ts). Objects are loose: a field a newer metal added survives a rewrite by this
 * one, while every field this version knows is checked.
 */
import { z } from "zod";
import { PHASES } from "./types.js";

const timestamp = z.number().int().nonnegative();
const count = z.number().int().nonnegative();
const phase = z.enum(PHASES);

const tokenRecord = z.looseObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "is not a hex SHA-256"),
  attempt: z.number().int().positive(),
  issuedAt: timestamp,
  expiresAt: timestamp,
  usedAt: timestamp.optional(),
});

const installerFacts = z.object({
  agent: z.string(),
  mac: z.string(),
  ip: z.string(),
  hostname: z.string().optional(),
  sshHostKey: z.string(),
  firmware: z.enum(["uefi", "bios"]),
  memoryBytes: count,
  disks: z.array(
    z.object({
      name: z.string(),
      path: z.string(),
      sizeBytes: count,
      model: z.string().optional(),
      serial: z.string().optional(),
      byId: z.array(z.string()).optional(),
    }),
  ),
});

const hostRecord = z.looseObject({
  name: z.string().min(1),
  phase,
  attempt: z.number().int().positive(),
  lastStep: z.string(),
  failure: z.looseObject({ reason: z.string(), phase }).optional(),
  since: timestamp,
  updatedAt: timestamp,
  tokens: z.looseObject({
    installer: tokenRecord.optional(),
    "first-boot": tokenRecord.optional(),
  }),
  installer: z
    .strictObject({ sshHostKey: z.string(), ip: z.string(), facts: installerFacts })
    .optional(),
});

const unknownMachine = z.looseObject({
  mac: z.string(),
  firstSeen: timestamp,
  lastSeen: timestamp,
  count: z.number().int().positive(),
  arch: count.optional(),
});

export const clusterStateSchema = z
  .strictObject({
    version: z.literal(1),
    seq: count,
    hosts: z.record(z.string(), hostRecord),
    unknownMachines: z.record(z.string(), unknownMachine),
  })
  .superRefine((state, context) => {
    for (const [key, host] of Object.entries(state.hosts))
      if (host.name !== key)
        context.addIssue({
          code: "custom",
          path: ["hosts", key, "name"],
          message: `is "${host.name}", but the record is filed under "${key}"`,
        });
  });

/** `hosts.node1.attempt: expected a positive integer` lines, at most a few, for an error message. */
export function describeStateIssues(error: z.ZodError, limit = 5): string {
  const lines = error.issues
    .slice(0, limit)
    .map(
      (issue) =>
        `${issue.path.length > 0 ? issue.path.join(".") : "(top level)"}: ${issue.message}`,
    );
  const more = error.issues.length > limit ? ` (and ${error.issues.length - limit} more)` : "";
  return `${lines.join("; ")}${more}`;
}
