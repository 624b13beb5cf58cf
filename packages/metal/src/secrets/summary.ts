/** The human summary every `metal secrets` command ends with: one aligned line per change. */
import path from "node:path";
import type { Change } from "./reconcile.js";
import type { HostKeyReport } from "./rotate.js";

/** How private paths are shown: relative to the secrets directory, named once elsewhere. */
export const SECRETS_DIR_LABEL = "<secrets-dir>";

export function formatChanges(changes: readonly Change[], secretsDir: string): string[] {
  if (changes.length === 0)
    return ["  nothing changed: every key and file already exists and is up to date"];
  const shown = changes.map((change) => ({
    ...change,
    path: change.path.startsWith(`${secretsDir}${path.sep}`)
      ? `${SECRETS_DIR_LABEL}/${path.relative(secretsDir, change.path)}`
      : change.path,
  }));
  const actionWidth = Math.max(...shown.map((change) => change.action.length));
  const pathWidth = Math.max(...shown.map((change) => change.path.length));
  return shown.map(
    (change) =>
      `  ${change.action.padEnd(actionWidth)}  ${change.path.padEnd(pathWidth)}  ${change.what}`,
  );
}

export function formatHostKeyReport(
  verb: string,
  report: HostKeyReport,
  secretsDir: string,
): string[] {
  const recipient =
    report.oldRecipient === undefined || report.oldRecipient === report.newRecipient
      ? `  age recipient of ${report.host}: ${report.newRecipient}`
      : `  age recipient of ${report.host}: ${report.oldRecipient} -> ${report.newRecipient}`;
  return [
    `metal secrets ${verb} ${report.host}:`,
    recipient,
    ...formatChanges(report.changes, secretsDir),
  ];
}
