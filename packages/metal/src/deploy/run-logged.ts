/**
 * Runs one command of a deploy as a subprocess, appending its argv and output to the host's log
 * file, and returns its stdout. Failures become CommandFailedError naming the log.
 */
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { finished } from "node:stream/promises";
import { execa } from "execa";
import { CommandFailedError } from "./errors.js";

export interface RunOptions {
  readonly logFile: string;
  /** Extra environment, e.g. NIX_SSHOPTS for nixos-rebuild. */
  readonly env: Readonly<Record<string, string>>;
  /** When true a non-zero exit is returned instead of thrown. */
  readonly allowFailure?: boolean;
}

export interface RunResult {
  readonly stdout: string;
  readonly exitCode: number | undefined;
}

export async function runLogged(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("empty command template");
  await mkdir(dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile, { flags: "a" });
  log.write(`\n[${new Date().toISOString()}] $ ${argv.join(" ")}\n`);
  const subprocess = execa(file, args, {
    env: options.env,
    stdin: "ignore",
    reject: false,
    stripFinalNewline: false,
  });
  subprocess.stdout.pipe(log, { end: false });
  subprocess.stderr.pipe(log, { end: false });
  const result = await subprocess;
  log.end(`[${new Date().toISOString()}] exit ${result.exitCode ?? result.signal ?? "?"}\n`);
  await finished(log);
  if (result.failed && !options.allowFailure) {
    throw new CommandFailedError(
      argv,
      result.exitCode,
      options.logFile,
      result.shortMessage ?? "failed",
    );
  }
  return { stdout: String(result.stdout), exitCode: result.exitCode };
}
