/** The human summary every `metal secrets` command ends with: one aligned line per change. */
import type { Change } from "./reconcile.js";
import type { HostKeyReport } from "./rotate.js";

export function formatChanges(changes: readonly Change[]): string[] {
  if (changes.length === 0)
    return ["  nothing changed: every key and file already exists and is up to date"];
  const actionWidth = Math.max(...changes.map((change) => change.action.length));
  const pathWidth = Math.max(...changes.map((change) => change.path.length));
  return changes.map(
    (change) =>
      `  ${change.action.padEnd(actionWidth)}  ${change.path.padEnd(pathWidth)}  ${change.what}`,
  );
}

export function formatHostKeyReport(verb: string, report: HostKeyReport): string[] {
  const recipient =
    report.oldRecipient === undefined || report.oldRecipient === report.newRecipient
      ? `  age recipient of ${report.host}: ${report.newRecipient}`
      : `  age recipient of ${report.host}: ${report.oldRecipient} -> ${report.newRecipient}`;
  return [`metal secrets ${verb} ${report.host}:`, recipient, ...formatChanges(report.changes)];
}
