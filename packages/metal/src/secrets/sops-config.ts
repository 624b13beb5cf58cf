/**
 * `.sops.yaml`: which age recipients each encrypted file is for. The cluster file goes to every
 * host and the admin; a host's own file to that host and the admin. Rendered deterministically
 * (inventory order), so an unchanged cluster renders byte-identical.
 */
import { Document, isScalar, isSeq } from "yaml";
import { REPO_PATHS } from "./layout.js";

export interface HostRecipient {
  readonly host: string;
  readonly recipient: string;
}

export interface SopsRecipients {
  readonly admin: string;
  readonly hosts: readonly HostRecipient[];
}

interface Recipient {
  readonly owner: string;
  readonly recipient: string;
}

/** The recipients each encrypted file (repository-relative path) must be readable by. */
export function recipientsByFile(recipients: SopsRecipients): Map<string, readonly string[]> {
  return new Map(
    [...ownersByFile(recipients)].map(([file, owners]) => [file, owners.map((o) => o.recipient)]),
  );
}

function ownersByFile(recipients: SopsRecipients): Map<string, readonly Recipient[]> {
  const admin = { owner: "admin", recipient: recipients.admin };
  const hosts = recipients.hosts.map((h) => ({ owner: h.host, recipient: h.recipient }));
  const files = new Map<string, readonly Recipient[]>();
  files.set(REPO_PATHS.clusterSecrets, [admin, ...hosts]);
  for (const host of hosts) files.set(REPO_PATHS.hostSecrets(host.owner), [admin, host]);
  return files;
}

/**
 * A rule matches the path sops is given, relative or absolute, so the regex is anchored at a
 * path-segment boundary and at the end (Go RE2 syntax, which these patterns share with JS).
 */
export function pathRegexFor(repoRelativePath: string): string {
  return `(^|/)${repoRelativePath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;
}

export function renderSopsConfig(recipients: SopsRecipients): string {
  const rules = [...ownersByFile(recipients)];
  const document = new Document({
    creation_rules: rules.map(([file, owners]) => ({
      path_regex: pathRegexFor(file),
      key_groups: [{ age: owners.map((o) => o.recipient) }],
    })),
  });
  document.commentBefore = [
    " Written by `metal secrets` from cluster.toml and the keys in keys/: do not edit by hand.",
    " After a change, `metal secrets init` re-keys the encrypted files (sops updatekeys).",
  ].join("\n");
  rules.forEach(([, owners], index) => {
    const ages = document.getIn(["creation_rules", index, "key_groups", 0, "age"], true);
    if (!isSeq(ages)) return;
    ages.items.forEach((item, position) => {
      if (isScalar(item)) item.comment = ` ${owners[position]?.owner ?? ""}`;
    });
  });
  return document.toString({ lineWidth: 0 });
}
