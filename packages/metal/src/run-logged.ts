/**
 * Runs one command with its output streamed, line by line, to a log file (appended, so every
 * attempt of a host stays in `STATE/logs/HOST.log`), keeping the last lines in memory for the
 * failure summary. The process is killed if `signal` aborts.
 */
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";

/** How many trailing output lines a failure report carries. */
export const TAIL_LINES = 20;

export interface LoggedRun {
  readonly exitCode: number | undefined;
  /** Signal name when the process was killed. */
  readonly signal: string | undefined;
  readonly tail: readonly string[];
  /** Standard output alone, for commands whose answer is printed (a store path). */
  readonly stdout: string;
}

export interface RunLoggedOptions {
  readonly argv: readonly string[];
  readonly logFile: string;
  /** Written to the log before the command's output (e.g. "attempt 2 of 3"). */
  readonly header: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Called with each output line as it arrives (progress views show the latest). */
  readonly onLine?: (line: string) => void;
}

export async function runLogged(options: RunLoggedOptions): Promise<LoggedRun> {
  const [file, ...args] = options.argv;
  if (file === undefined) throw new Error("runLogged: empty argv");
  await mkdir(path.dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile, { flags: "a", mode: 0o600 });
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    options.onLine?.(line);
  };
  log.write(`\n=== ${new Date().toISOString()} ${options.header}\n$ ${options.argv.join(" ")}\n`);

  const child = execa(file, args, {
    all: true,
    reject: false,
    stdin: "ignore",
    env: options.env,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    forceKillAfterDelay: 5_000,
  });
  let pending = "";
  child.all?.on("data", (chunk: Buffer) => {
    log.write(chunk);
    pending += chunk.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) keep(line);
  });
  const result = await child;
  if (pending) keep(pending);
  const ending =
    result.exitCode !== undefined ? `exit code ${result.exitCode}` : `killed by ${result.signal}`;
  log.write(`=== ${new Date().toISOString()} ${ending}\n`);
  await new Promise<void>((resolve, reject) =>
    log.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  return {
    exitCode: result.exitCode,
    signal: result.signal ?? undefined,
    tail,
    stdout: String(result.stdout),
  };
}
