/** What the benches share: medians, the machine's load average, a process's memory from /proc. */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";

/** The middle value; for an even count, the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const upper = sorted[Math.floor(sorted.length / 2)] as number;
  return sorted.length % 2 === 1 ? upper : (upper + (sorted[sorted.length / 2 - 1] as number)) / 2;
}

/** The 1, 5 and 15 minute load averages, as printed beside every result. */
export function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(1))
    .join(" ");
}

/** VmRSS (now) or VmHWM (peak) of a process, in bytes (proc(5), /proc/PID/status). */
export function procStatusBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
}
