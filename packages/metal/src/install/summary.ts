/**
 * The table `metal install` ends with: one row per host (phase, attempt, how long it took this
 * run, its log), then for every failed host why, in which phase, and the last lines of its log.
 */
import { readFile } from "node:fs/promises";
import type { StateStore } from "../state/store.js";
import type { Phase } from "../state/types.js";
import { TAIL_LINES } from "../run-logged.js";

export const EXIT_ALL_READY = 0;
export const EXIT_HOSTS_FAILED = 1;
/** 128 + SIGINT, as shells report an interrupted command. */
export const EXIT_INTERRUPTED = 130;

export interface SummaryRow {
  readonly host: string;
  readonly phase: Phase;
  readonly attempt: number;
  /** Milliseconds this run spent on the host (0 for hosts that were already ready). */
  readonly durationMs: number;
  readonly logFile: string | undefined;
  readonly failure?: { readonly reason: string; readonly phase: Phase } | undefined;
  /** Last lines of the host's install log, for failed hosts. */
  readonly logTail: readonly string[];
}

export interface InstallSummary {
  readonly rows: readonly SummaryRow[];
  readonly failed: readonly string[];
  readonly interrupted: boolean;
  readonly exitCode: number;
}

async function tailOf(file: string): Promise<{ exists: boolean; tail: string[] }> {
  try {
    const lines = (await readFile(file, "utf8")).trimEnd().split("\n");
    return { exists: true, tail: lines.slice(-TAIL_LINES) };
  } catch {
    return { exists: false, tail: [] };
  }
}

export async function buildSummary(options: {
  readonly store: StateStore;
  readonly hosts: readonly string[];
  readonly logFile: (host: string) => string;
  /** When each host reached its final phase in this run; absent = still running or untouched. */
  readonly finishedAt: ReadonlyMap<string, number>;
  readonly startedAt: number | undefined;
  readonly now: number;
  readonly interrupted: boolean;
}): Promise<InstallSummary> {
  const rows: SummaryRow[] = [];
  for (const host of options.hosts) {
    const record = options.store.host(host);
    if (!record) continue;
    const log = await tailOf(options.logFile(host));
    const end = options.finishedAt.get(host) ?? options.now;
    rows.push({
      host,
      phase: record.phase,
      attempt: record.attempt,
      durationMs: options.startedAt === undefined ? 0 : Math.max(0, end - options.startedAt),
      logFile: log.exists ? options.logFile(host) : undefined,
      failure: record.failure,
      logTail: record.phase === "failed" ? log.tail : [],
    });
  }
  const failed = rows.filter((row) => row.phase !== "ready").map((row) => row.host);
  return {
    rows,
    failed,
    interrupted: options.interrupted,
    exitCode: options.interrupted
      ? EXIT_INTERRUPTED
      : failed.length === 0
        ? EXIT_ALL_READY
        : EXIT_HOSTS_FAILED,
  };
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd(),
  );
}

export function formatSummary(summary: InstallSummary): string {
  const lines = table([
    ["HOST", "PHASE", "ATTEMPT", "DURATION", "LOG"],
    ...summary.rows.map((row) => [
      row.host,
      row.phase,
      String(row.attempt),
      formatDuration(row.durationMs),
      row.logFile ?? "-",
    ]),
  ]);
  for (const row of summary.rows.filter((candidate) => candidate.phase === "failed")) {
    lines.push(
      "",
      `${row.host} failed in phase ${row.failure?.phase ?? "?"}: ${row.failure?.reason ?? "no reason recorded"}`,
    );
    if (row.logTail.length > 0)
      lines.push(`  last lines of ${row.logFile}:`, ...row.logTail.map((line) => `  | ${line}`));
  }
  lines.push("");
  if (summary.interrupted)
    lines.push(
      `interrupted: ${summary.failed.length} host${summary.failed.length === 1 ? "" : "s"} not ready (${summary.failed.join(", ")}); run metal install again to resume`,
    );
  else if (summary.failed.length === 0) lines.push(`all ${summary.rows.length} hosts ready`);
  else
    lines.push(
      `not ready: ${summary.failed.join(", ")}; fix the cause above and run metal install again (failed hosts get a new attempt)`,
    );
  return lines.join("\n");
}
