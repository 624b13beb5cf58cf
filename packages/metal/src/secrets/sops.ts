/**
 * The `sops` binary, driven without ever putting plaintext on disk: `encrypt` reads the
 * plaintext from stdin and picks its creation rule through `--filename-override` (sops ≥ 3.9),
 * `updatekeys` re-encrypts a file's data key for the recipients `.sops.yaml` now names.
 */
import { execa, type ExecaError } from "execa";
import { parse } from "yaml";
import { SopsFailedError } from "./errors.js";

export const SOPS_BINARY = "sops";

export interface Sops {
  /** Encrypts YAML for `repoRelativePath` (its creation rule decides the recipients). */
  encryptYaml(repoRelativePath: string, plaintext: string): Promise<string>;
  updateKeys(repoRelativePath: string): Promise<void>;
}

export interface SopsOptions {
  readonly repoRoot: string;
  readonly sopsConfig: string;
  /** The admin's age key file: updatekeys must decrypt the data key first. */
  readonly ageKeyFile: string;
  readonly env: NodeJS.ProcessEnv;
}

/** A runner if `sops` is on PATH, else undefined. */
export async function findSops(options: SopsOptions): Promise<Sops | undefined> {
  try {
    await execa(SOPS_BINARY, ["--version"], { env: options.env, stdin: "ignore" });
  } catch (error) {
    if ((error as ExecaError).code === "ENOENT") return undefined;
    throw error;
  }
  const run = async (args: readonly string[], input?: string): Promise<string> => {
    const argv = ["--config", options.sopsConfig, ...args];
    const result = await execa(SOPS_BINARY, argv, {
      cwd: options.repoRoot,
      env: { ...options.env, SOPS_AGE_KEY_FILE: options.ageKeyFile },
      reject: false,
      ...(input === undefined ? { stdin: "ignore" as const } : { input }),
    });
    if (result.exitCode !== 0) throw new SopsFailedError(argv, result.exitCode, result.stderr);
    return result.stdout;
  };
  return {
    encryptYaml: async (file, plaintext) =>
      withNewline(
        await run(
          ["encrypt", "--filename-override", file, "--input-type", "yaml", "--output-type", "yaml"],
          plaintext,
        ),
      ),
    updateKeys: async (file) => {
      await run(["updatekeys", "--yes", file]);
    },
  };
}

/** The age recipients an encrypted file is readable by, from its (clear-text) sops metadata. */
export function recipientsOfEncryptedFile(content: string): readonly string[] {
  const document = parse(content) as { sops?: { age?: Array<{ recipient?: unknown }> } } | null;
  return (document?.sops?.age ?? [])
    .map((entry) => entry.recipient)
    .filter((recipient): recipient is string => typeof recipient === "string");
}

function withNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}
