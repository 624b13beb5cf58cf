/**
 * A minimal client for QEMU's machine protocol (QMP, docs/interop/qmp-spec): newline-separated
 * JSON over a unix socket, commands answered in order, asynchronous events passed to handlers.
 */
import { createConnection, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { QmpError } from "./errors.js";

const CONNECT_RETRY_MS = 50;

/** An asynchronous QMP event, e.g. { event: "SHUTDOWN", data: { guest: true, … } }. */
export interface QmpEvent {
  readonly event: string;
  readonly data?: Record<string, unknown>;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class QmpClient {
  readonly #socket: Socket;
  readonly #pending: Pending[] = [];
  readonly #eventHandlers: ((event: QmpEvent) => void)[] = [];
  #buffer = "";
  #closedError: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.#receive(chunk));
    socket.on("error", (error) => this.#fail(new QmpError(`QMP socket: ${error.message}`)));
    socket.on("close", () => this.#fail(new QmpError("QMP socket closed (QEMU exited?)")));
  }

  /**
   * Connects (retrying until QEMU has created the socket), reads the greeting, negotiates.
   * `gaveUp` ends the retries early, e.g. once the QEMU process has exited.
   */
  static async connect(
    path: string,
    timeoutMs: number,
    gaveUp: () => boolean = () => false,
  ): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await openSocket(path);
        const client = new QmpClient(socket);
        // The greeting arrives first; treat it as the answer to a pseudo-command.
        await new Promise((resolve, reject) => client.#pending.push({ resolve, reject }));
        await client.execute("qmp_capabilities");
        return client;
      } catch (error) {
        if (Date.now() > deadline || gaveUp())
          throw new QmpError(
            `could not talk QMP on ${path} within ${timeoutMs} ms: ${(error as Error).message}`,
          );
        await sleep(CONNECT_RETRY_MS);
      }
    }
  }

  async execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.#closedError) throw this.#closedError;
    const result = new Promise((resolve, reject) => this.#pending.push({ resolve, reject }));
    this.#socket.write(
      JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + "\n",
    );
    return result;
  }

  onEvent(handler: (event: QmpEvent) => void): void {
    this.#eventHandlers.push(handler);
  }

  close(): void {
    this.#socket.destroy();
  }

  #receive(chunk: string): void {
    this.#buffer += chunk;
    let newline: number;
    while ((newline = this.#buffer.indexOf("\n")) >= 0) {
      const line = this.#buffer.slice(0, newline).trim();
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line) this.#dispatch(JSON.parse(line) as Record<string, unknown>);
    }
  }

  #dispatch(message: Record<string, unknown>): void {
    if ("event" in message) {
      for (const handler of this.#eventHandlers) handler(message as unknown as QmpEvent);
      return;
    }
    const pending = this.#pending.shift();
    if (!pending) return;
    if ("error" in message) {
      const error = message.error as { class?: string; desc?: string };
      pending.reject(new QmpError(`QMP ${error.class ?? "error"}: ${error.desc ?? "unknown"}`));
    } else pending.resolve("return" in message ? message.return : message.QMP);
  }

  #fail(error: Error): void {
    this.#closedError ??= error;
    for (const pending of this.#pending.splice(0)) pending.reject(error);
  }
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}
