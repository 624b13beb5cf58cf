/**
 * The embedded state store: `state.json` (replaced atomically on every change) and
 * `events.jsonl` (append-only history, fsynced per line) in the state directory. Changes are
 * applied one at a time; each is persisted before listeners hear of it. state.json is written
 * before the event line, so a crash between the two can lose a history line but never a change.
 */
import { EventEmitter } from "node:events";
import { mkdir, open, readFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { appendLine, removeStaleTemps, replaceFile } from "./durable-file.js";
import { lockStateDirectory, type StateLock } from "./lock.js";
import { handOverToInvokingUser, StatePermissionError } from "./ownership.js";
import {
  IllegalTransitionError,
  PhaseConflictError,
  StateFileError,
  UnknownHostError,
} from "./errors.js";
import type { HostChange, MachineSighting, StateStore } from "./store.js";
import { isAllowedTransition } from "./transitions.js";
import { clusterStateSchema, describeStateIssues } from "./schema.js";
import {
  type ClusterState,
  type HostRecord,
  type Phase,
  type StateEvent,
  type StateEventInput,
  type UnknownMachine,
} from "./types.js";

export const STATE_FILE = "state.json";
export const EVENTS_FILE = "events.jsonl";

export type Clock = () => number;

const EMPTY_STATE: ClusterState = { version: 1, seq: 0, hosts: {}, unknownMachines: {} };

function checkState(value: unknown, file: string): ClusterState {
  const parsed = clusterStateSchema.safeParse(value);
  if (!parsed.success)
    throw new StateFileError(file, `has invalid fields: ${describeStateIssues(parsed.error)}`);
  // The annotation is the check that schema.ts and types.ts describe the same file.
  const state: ClusterState = parsed.data;
  return state;
}

export interface FileStateStoreOptions {
  readonly clock?: Clock;
}

export class FileStateStore implements StateStore {
  #state: ClusterState;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #events = new EventEmitter();
  readonly #clock: Clock;
  readonly #lock: StateLock;

  private constructor(
    readonly directory: string,
    state: ClusterState,
    clock: Clock,
    lock: StateLock,
  ) {
    this.#state = state;
    this.#clock = clock;
    this.#lock = lock;
  }

  /** Opens (creating if needed) and locks the store in `directory`; close() releases it. */
  static async open(
    directory: string,
    options: FileStateStoreOptions = {},
  ): Promise<FileStateStore> {
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const file = join(directory, STATE_FILE);
    const lock = await lockStateDirectory(directory);
    try {
      await removeStaleTemps(file);
      await repairTornTail(join(directory, EVENTS_FILE));
      return new FileStateStore(
        directory,
        await readStateFile(file),
        options.clock ?? Date.now,
        lock,
      );
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  snapshot(): ClusterState {
    return this.#state;
  }

  host(name: string): HostRecord | undefined {
    return this.#state.hosts[name];
  }

  hostsInPhase(...phases: Phase[]): HostRecord[] {
    return Object.values(this.#state.hosts).filter((host) => phases.includes(host.phase));
  }

  register(names: readonly string[]): Promise<void> {
    return this.#serialise(async () => {
      const now = this.#clock();
      const added = names.filter((name) => !(name in this.#state.hosts));
      if (added.length === 0) return;
      const hosts = { ...this.#state.hosts };
      for (const name of added) {
        hosts[name] = {
          name,
          phase: "pending",
          attempt: 1,
          lastStep: "added from the inventory",
          since: now,
          updatedAt: now,
          tokens: {},
        };
      }
      await this.#commit(
        { ...this.#state, hosts },
        added.map((host) => ({ type: "host.added", host })),
      );
    });
  }

  change(name: string, change: HostChange): Promise<HostRecord> {
    return this.#serialise(async () => {
      const current = this.#state.hosts[name];
      if (!current) throw new UnknownHostError(name);
      const expected: readonly Phase[] =
        typeof change.expect === "string" ? [change.expect] : change.expect;
      if (!expected.includes(current.phase))
        throw new PhaseConflictError(name, expected, current.phase);
      const to = change.to ?? current.phase;
      const moves = to !== current.phase;
      if (moves && !isAllowedTransition(current.phase, to)) {
        throw new IllegalTransitionError(name, current.phase, to);
      }
      const now = this.#clock();
      const newAttempt = moves && to === "pending";
      const base: HostRecord = newAttempt
        ? { ...current, attempt: current.attempt + 1, tokens: {}, installer: undefined }
        : current;
      const next: HostRecord = {
        ...base,
        ...change.update?.(base),
        phase: to,
        lastStep: change.step,
        failure:
          to === "failed"
            ? { reason: change.reason ?? change.step, phase: current.phase }
            : undefined,
        since: moves ? now : current.since,
        updatedAt: now,
      };
      const event: StateEventInput = moves
        ? {
            type: "host.phase",
            host: name,
            from: current.phase,
            to,
            attempt: next.attempt,
            step: change.step,
            reason: next.failure?.reason,
          }
        : { type: "host.step", host: name, phase: to, step: change.step };
      await this.#commit({ ...this.#state, hosts: { ...this.#state.hosts, [name]: next } }, [
        event,
      ]);
      return next;
    });
  }

  recordUnknownMachine(sighting: MachineSighting): Promise<UnknownMachine> {
    return this.#serialise(async () => {
      const now = this.#clock();
      const previous = this.#state.unknownMachines[sighting.mac];
      const machine: UnknownMachine = {
        mac: sighting.mac,
        firstSeen: previous?.firstSeen ?? now,
        lastSeen: now,
        count: (previous?.count ?? 0) + 1,
        arch: sighting.arch ?? previous?.arch,
      };
      await this.#commit(
        {
          ...this.#state,
          unknownMachines: { ...this.#state.unknownMachines, [sighting.mac]: machine },
        },
        [{ type: "unknown.seen", mac: machine.mac, count: machine.count, arch: machine.arch }],
      );
      return machine;
    });
  }

  on(_type: "event", listener: (event: StateEvent) => void): () => void {
    this.#events.on("event", listener);
    return () => this.#events.off("event", listener);
  }

  history(): Promise<StateEvent[]> {
    return readHistory(join(this.directory, EVENTS_FILE));
  }

  async close(): Promise<void> {
    await this.#queue.catch(() => undefined);
    this.#events.removeAllListeners();
    await this.#lock.release();
    await handOverToInvokingUser(this.directory);
  }

  #serialise<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(work, work);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #commit(next: ClusterState, inputs: readonly StateEventInput[]): Promise<void> {
    const time = this.#clock();
    const events = inputs.map(
      (input, index) => ({ ...input, seq: this.#state.seq + index + 1, time }) as StateEvent,
    );
    const state: ClusterState = { ...next, seq: this.#state.seq + events.length };
    await replaceFile(join(this.directory, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    this.#state = state;
    for (const event of events)
      await appendLine(join(this.directory, EVENTS_FILE), JSON.stringify(event));
    for (const event of events) {
      for (const listener of this.#events.listeners("event") as Array<(e: StateEvent) => void>) {
        try {
          listener(event);
        } catch {
          // Listeners observe; a failing terminal view must not undo a persisted change.
        }
      }
    }
  }
}

/** Reads a state file without opening a store (for `metal status`); missing means empty. */
export async function readStateFile(file: string): Promise<ClusterState> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return EMPTY_STATE;
    if (code === "EACCES" || code === "EPERM") throw new StatePermissionError(file, code);
    throw new StateFileError(
      file,
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new StateFileError(file, "is not valid JSON");
  }
  return checkState(parsed, file);
}

/**
 * Cuts a last line that a crash left without its newline: the next append would otherwise glue a
 * whole event onto the fragment, and both would be unreadable. The change that line recorded is
 * already in state.json (written first); only its history line is lost.
 */
export async function repairTornTail(file: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, "r+");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    if (last[0] === NEWLINE) return;
    const keep = await lastNewlineEnd(handle, size);
    await handle.truncate(keep);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const NEWLINE = 0x0a;
const TAIL_SCAN_CHUNK = 64 * 1024;

/** The offset just past the last newline before `size` (0 when there is none). */
async function lastNewlineEnd(handle: FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(TAIL_SCAN_CHUNK);
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - TAIL_SCAN_CHUNK);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const at = chunk.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (at !== -1) return start + at + 1;
    end = start;
  }
  return 0;
}

/** The history, oldest first; a last line cut short by a crash is skipped. */
export async function readHistory(file: string): Promise<StateEvent[]> {
  const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
  const events: StateEvent[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      events.push(JSON.parse(line) as StateEvent);
    } catch {
      // Only the line being appended when the process died can be partial.
    }
  }
  return events;
}
