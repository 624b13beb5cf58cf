/**
 * The deploy's two recorders, beside the progress store they write: events (stamped, appended to
 * the history file, handed to the views) and progress (deploy.json, rewritten after every change,
 * one write at a time).
 */
import { appendLine } from "../state/durable-file.js";
import type { DeployEvent, DeployEventInput, DeployEventListener, DeployStep } from "./events.js";
import { saveProgress, type DeployProgress, type HostProgress } from "./progress-store.js";

/** Stamps events, hands them to the listener and appends them to the history file. */
export class EventRecorder {
  constructor(
    readonly deployId: string,
    readonly historyFile: string | undefined,
    readonly listener: DeployEventListener,
  ) {}

  async emit(input: DeployEventInput): Promise<void> {
    const event = { ...input, time: Date.now(), deployId: this.deployId } as DeployEvent;
    if (this.historyFile) {
      await appendLine(this.historyFile, JSON.stringify(event));
    }
    this.listener(event);
  }
}

/** Keeps the progress record and writes it after every change, one write at a time. */
export class ProgressRecorder {
  #progress: DeployProgress;
  #writing: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    initial: DeployProgress,
  ) {
    this.#progress = initial;
  }

  host(name: string): HostProgress | undefined {
    return this.#progress.hosts[name];
  }

  step(name: string, step: DeployStep): Promise<void> {
    return this.update(name, { step, failed: false, error: undefined });
  }

  done(name: string): Promise<void> {
    return this.update(name, { step: "done" });
  }

  failed(name: string, error: string): Promise<void> {
    return this.update(name, { failed: true, error });
  }

  update(name: string, change: Partial<HostProgress>): Promise<void> {
    const before: HostProgress = this.#progress.hosts[name] ?? {
      step: "health",
      failed: false,
      wasUnschedulable: undefined,
      error: undefined,
      updatedAt: 0,
    };
    const after = { ...before, ...change, updatedAt: Date.now() };
    this.#progress = { ...this.#progress, hosts: { ...this.#progress.hosts, [name]: after } };
    return this.#save();
  }

  finish(): Promise<void> {
    this.#progress = { ...this.#progress, finishedAt: Date.now() };
    return this.#save();
  }

  #save(): Promise<void> {
    const snapshot = this.#progress;
    this.#writing = this.#writing.then(() => saveProgress(this.file, snapshot));
    return this.#writing;
  }
}
