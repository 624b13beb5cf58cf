/**
 * PXE clients whose MAC is in no `[[hosts]]` entry (often a typo in the inventory), kept in
 * memory: capped, expiring, counted, and never on the state store's write path (a flood of
 * forged MACs once rewrote state.json with fsyncs per packet, issue 11). `metal status` in
 * another process reads the snapshot this writes to `STATE/unknown-machines.json` at most once
 * per UNKNOWN_SNAPSHOT_INTERVAL_MS; it is advisory, so it is renamed into place without fsync.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { UnknownMachine } from "../state/types.js";

/** More distinct unknown MACs than this at once is a flood, not typos: the oldest go. */
export const MAX_UNKNOWN_MACHINES = 64;
/** A MAC not seen for this long is forgotten. */
export const UNKNOWN_MACHINE_TTL_MS = 30 * 60 * 1000;
export const UNKNOWN_SNAPSHOT_INTERVAL_MS = 2000;
export const UNKNOWN_MACHINES_FILE = "unknown-machines.json";

export interface UnknownSighting {
  readonly mac: string;
  readonly arch?: number | undefined;
}

/** What `metal status` reads: the machines, and how many sightings the cap did not keep. */
export interface UnknownMachinesSnapshot {
  readonly machines: readonly UnknownMachine[];
  readonly sightings: number;
  readonly evicted: number;
}

export interface UnknownMachinesOptions {
  /** Where the snapshot for `metal status` goes; without it, nothing is written. */
  readonly stateDir?: string;
  readonly clock?: () => number;
}

export class UnknownMachines {
  readonly #machines = new Map<string, UnknownMachine>();
  readonly #listeners = new Set<(machine: UnknownMachine) => void>();
  readonly #clock: () => number;
  readonly #file: string | undefined;
  #sightings = 0;
  #evicted = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(options: UnknownMachinesOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#file =
      options.stateDir === undefined
        ? undefined
        : path.join(options.stateDir, UNKNOWN_MACHINES_FILE);
  }

  record(sighting: UnknownSighting): void {
    const now = this.#clock();
    this.#sightings++;
    this.#expire(now);
    const previous = this.#machines.get(sighting.mac);
    // Delete and re-insert: the map's order is least recently seen first, so eviction is O(1).
    this.#machines.delete(sighting.mac);
    const machine: UnknownMachine = {
      mac: sighting.mac,
      firstSeen: previous?.firstSeen ?? now,
      lastSeen: now,
      count: (previous?.count ?? 0) + 1,
      arch: sighting.arch ?? previous?.arch,
    };
    this.#machines.set(sighting.mac, machine);
    while (this.#machines.size > MAX_UNKNOWN_MACHINES) {
      const oldest = this.#machines.keys().next().value as string;
      this.#machines.delete(oldest);
      this.#evicted++;
    }
    this.#scheduleFlush();
    for (const listener of this.#listeners) listener(machine);
  }

  /** Most recently seen first. */
  list(): readonly UnknownMachine[] {
    this.#expire(this.#clock());
    return [...this.#machines.values()].reverse();
  }

  snapshot(): UnknownMachinesSnapshot {
    return { machines: this.list(), sightings: this.#sightings, evicted: this.#evicted };
  }

  /** Called with each sighting (the dashboard coalesces). Returns the unsubscribe function. */
  onChange(listener: (machine: UnknownMachine) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Writes the last snapshot now and stops the timer. */
  async close(): Promise<void> {
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      this.#flush();
    }
    await this.#writing;
  }

  #expire(now: number): void {
    for (const [mac, machine] of this.#machines) {
      if (now - machine.lastSeen < UNKNOWN_MACHINE_TTL_MS) break;
      this.#machines.delete(mac);
    }
  }

  #scheduleFlush(): void {
    if (this.#file === undefined || this.#flushTimer !== undefined) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flush();
    }, UNKNOWN_SNAPSHOT_INTERVAL_MS);
    this.#flushTimer.unref();
  }

  #flush(): void {
    const file = this.#file;
    if (file === undefined) return;
    const text = `${JSON.stringify(this.snapshot())}\n`;
    const temporary = `${file}.tmp`;
    this.#writing = this.#writing
      .then(() => writeFile(temporary, text, { mode: 0o600 }))
      .then(() => rename(temporary, file))
      // Advisory: a failed write leaves the previous snapshot, and the next sighting tries again.
      .catch(() => undefined);
  }
}

const count = z.number().int().nonnegative();
const snapshotSchema = z.object({
  machines: z
    .array(
      z.object({
        mac: z.string().max(17),
        firstSeen: count,
        lastSeen: count,
        count,
        arch: count.optional(),
      }),
    )
    .max(MAX_UNKNOWN_MACHINES),
  sightings: count,
  evicted: count,
});
const NONE_SEEN: UnknownMachinesSnapshot = { machines: [], sightings: 0, evicted: 0 };

/** Reads the snapshot `metal install` left; none, or one that does not parse, means none seen. */
export async function readUnknownMachines(stateDir: string): Promise<UnknownMachinesSnapshot> {
  const text = await readFile(path.join(stateDir, UNKNOWN_MACHINES_FILE), "utf8").catch(() => "");
  if (text === "") return NONE_SEEN;
  try {
    const parsed = snapshotSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : NONE_SEEN;
  } catch {
    return NONE_SEEN;
  }
}
