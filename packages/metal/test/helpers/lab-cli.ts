/**
 * The built metal CLI as the lab tests run it: `metal lab …` from this namespace, and any other
 * command from metal's namespace on a running lab's bridge, where an operator's machine sits.
 */
import { execa } from "execa";

export const CLI = new URL("../../dist/cli.js", import.meta.url).pathname;

/** The flags that point a command at a lab's inventory, stand-in installer and secrets. */
export function labFlags(paths: {
  readonly inventory: string;
  readonly installer: string;
  readonly secrets: string;
}): string[] {
  return [
    "--inventory",
    paths.inventory,
    "--installer",
    paths.installer,
    "--secrets-dir",
    paths.secrets,
  ];
}

/** Runs `metal ARGS` inside `namespace`; never rejects, output merged in `all`. */
export function metalIn(namespace: string, args: readonly string[]) {
  return execa("ip", ["netns", "exec", namespace, "node", CLI, ...args], {
    reject: false,
    all: true,
    encoding: "utf8",
  });
}

/** `metal reinstall HOSTS --yes` against a running lab, from metal's namespace on its bridge. */
export function reinstallIn(
  namespace: string,
  paths: Parameters<typeof labFlags>[0],
  hosts: readonly string[],
) {
  return metalIn(namespace, ["reinstall", ...hosts, "--yes", ...labFlags(paths)]);
}

/** `metal lab down` for a lab's work directory and namespace prefix; never rejects. */
export function labDown(workDir: string, prefix: string) {
  return execa("node", [CLI, "lab", "down", "--work-dir", workDir, "--namespace-prefix", prefix], {
    reject: false,
    all: true,
    encoding: "utf8",
  });
}

/** The network namespaces a lab with this prefix left behind. */
export async function namespacesLeft(prefix: string): Promise<string[]> {
  const { stdout } = await execa("ip", ["netns", "list"]);
  return stdout.split("\n").filter((line) => line.startsWith(prefix));
}

/** Resolves once `output()` contains `text`; throws with the output after `timeoutMs`. */
export async function waitForLine(
  output: () => string,
  text: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`"${text}" did not appear; output:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
