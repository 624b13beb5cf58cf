/**
 * What `metal install` shows while it runs. Every happening becomes one ProgressEvent (a phase
 * change, a step, a netboot event of a known MAC, a line of install output) and goes to a view:
 * a live table on a terminal (one line per host, redrawn), plain lines when the output is not a
 * terminal, or JSON lines with `--json`. A pino log with every event (host, MAC, phase as keys)
 * is written to STATE/logs/install.jsonl in all three cases. Every view escapes the text it shows
 * (ui/escape.ts): machines on the LAN choose much of it.
 */
import { createWriteStream, mkdirSync } from "node:fs";
import path from "node:path";
import pino, { type Logger } from "pino";
import type { Phase } from "../state/types.js";
import { escapeStrings } from "../ui/escape.js";
import { formatDuration } from "./summary.js";

export type ProgressKind = "phase" | "step" | "netboot" | "output" | "server";
export type ProgressLevel = "debug" | "info" | "warn" | "error";

export interface ProgressEvent {
  readonly time: number;
  readonly kind: ProgressKind;
  readonly level: ProgressLevel;
  readonly host: string | undefined;
  readonly mac: string | undefined;
  readonly phase: Phase | undefined;
  readonly message: string;
}

export interface ProgressView {
  show(event: ProgressEvent): void;
  close(): void;
}

const FINAL_PHASES: readonly Phase[] = ["ready", "failed"];
const REDRAW_MS = 250;
const STEP_WIDTH = 90;

function clock(time: number): string {
  return new Date(time).toISOString().slice(11, 19);
}

/** One line per event that matters to a person; install output stays in the host's log. */
export class PlainView implements ProgressView {
  constructor(private readonly out: NodeJS.WritableStream) {}

  show(raw: ProgressEvent): void {
    if (raw.kind === "output" || raw.level === "debug") return;
    const event = escapeStrings(raw);
    const who = event.host ?? event.mac ?? "metal";
    const phase = event.phase ? ` [${event.phase}]` : "";
    this.out.write(`${clock(event.time)} ${who}${phase} ${event.message}\n`);
  }

  close(): void {}
}

/** `--json`: one JSON object per event on stdout, through pino. */
export class JsonView implements ProgressView {
  readonly #logger: Logger;

  constructor(out: NodeJS.WritableStream) {
    this.#logger = pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, out);
  }

  show(event: ProgressEvent): void {
    if (event.kind === "output") return;
    logEvent(this.#logger, event);
  }

  close(): void {
    this.#logger.flush();
  }
}

interface HostLine {
  phase: Phase;
  step: string;
  /** When the host reached a final phase (its elapsed time stops there). */
  doneAt: number | undefined;
}

/** A table redrawn in place: host, phase, elapsed, last step. */
export class LiveView implements ProgressView {
  readonly #lines = new Map<string, HostLine>();
  readonly #timer: NodeJS.Timeout;
  readonly #startedAt: number;
  #drawn = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    hosts: ReadonlyArray<{ name: string; phase: Phase; step: string }>,
    startedAt: number,
  ) {
    this.#startedAt = startedAt;
    for (const host of hosts)
      this.#lines.set(host.name, {
        phase: host.phase,
        step: host.step,
        doneAt: FINAL_PHASES.includes(host.phase) ? startedAt : undefined,
      });
    this.#timer = setInterval(() => this.#draw(), REDRAW_MS);
    this.#timer.unref();
    this.#draw();
  }

  show(raw: ProgressEvent): void {
    const event = escapeStrings(raw);
    if (event.host === undefined) {
      if (event.level === "warn" || event.level === "error") this.#above(event.message);
      return;
    }
    const line = this.#lines.get(event.host);
    if (!line || event.level === "debug") return;
    if (event.phase) {
      line.phase = event.phase;
      line.doneAt = FINAL_PHASES.includes(event.phase) ? event.time : undefined;
    }
    line.step = event.message;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#draw();
  }

  /** Prints a message above the table, which is then drawn again below it. */
  #above(message: string): void {
    this.#clear();
    this.out.write(`${message}\n`);
    this.#drawn = 0;
    this.#draw();
  }

  #clear(): void {
    if (this.#drawn > 0) this.out.write(`\x1b[${this.#drawn}A\x1b[0J`);
  }

  #draw(): void {
    const now = Date.now();
    const names = [...this.#lines.keys()];
    const nameWidth = Math.max(4, ...names.map((name) => name.length));
    const rows = names.map((name) => {
      const line = this.#lines.get(name)!;
      const elapsed = formatDuration((line.doneAt ?? now) - this.#startedAt);
      const step =
        line.step.length > STEP_WIDTH ? `${line.step.slice(0, STEP_WIDTH - 1)}…` : line.step;
      return `${name.padEnd(nameWidth)}  ${line.phase.padEnd(10)}  ${elapsed.padStart(6)}  ${step}`;
    });
    this.#clear();
    this.out.write(`${rows.join("\n")}\n`);
    this.#drawn = rows.length;
  }
}

function logEvent(logger: Logger, raw: ProgressEvent): void {
  const event = escapeStrings(raw);
  logger[event.level](
    {
      kind: event.kind,
      host: event.host,
      mac: event.mac,
      phase: event.phase,
      eventTime: event.time,
    },
    event.message,
  );
}

/** The JSON log of everything (every level), STATE/logs/install.jsonl. */
export function openEventLog(stateDir: string): {
  log(event: ProgressEvent): void;
  close(): Promise<void>;
} {
  const file = path.join(stateDir, "logs", "install.jsonl");
  mkdirSync(path.dirname(file), { recursive: true });
  const stream = createWriteStream(file, { flags: "a", mode: 0o600 });
  const logger = pino({ level: "debug", timestamp: pino.stdTimeFunctions.isoTime }, stream);
  return {
    log: (event) => logEvent(logger, event),
    close: () => new Promise((resolve) => stream.end(() => resolve())),
  };
}
