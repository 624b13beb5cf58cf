/**
 * `.sops.yaml`: which age recipients each encrypted file is for. The cluster file goes to every
 * host and the admin; a host's own file to that host and the admin. Rendered deterministically
 * (inventory order), so an unchanged cluster renders byte-identical.
 */
import { stringify } from "yaml";
import { REPO_PATHS } from "./layout.js";

export interface HostRecipient {
  readonly host: string;
  readonly recipient: string;
}

export interface SopsRecipients {
  readonly admin: string;
  readonly hosts: readonly HostRecipient[];
}

/** The recipients each encrypted file (repository-relative path) must be readable by. */
export function recipientsByFile(recipients: SopsRecipients): Map<string, readonly string[]> {
  const files = new Map<string, readonly string[]>();
  files.set(REPO_PATHS.clusterSecrets, [
    recipients.admin,
    ...recipients.hosts.map((h) => h.recipient),
  ]);
  for (const { host, recipient } of recipients.hosts) {
    files.set(REPO_PATHS.hostSecrets(host), [recipients.admin, recipient]);
  }
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
  const creationRules = [...recipientsByFile(recipients)].map(([file, ages]) => ({
    path_regex: pathRegexFor(file),
    key_groups: [{ age: [...ages] }],
  }));
  const header = [
    "# Written by `metal secrets` from cluster.toml and the keys in keys/: do not edit by hand.",
    "# Admin first, then hosts. After a change, `metal secrets init` runs `sops updatekeys`.",
  ].join("\n");
  return `${header}\n${stringify({ creation_rules: creationRules }, { lineWidth: 0 })}`;
}
