/**
 * The README's "On real hardware" steps, run as written in a fresh clone of this repository until
 * the first step that needs Nix or hardware, each checked for what its comment promises. The
 * steps come from the README's own code block, so the two cannot drift: a step this test does
 * not know fails it.
 *
 * `nix develop` is the one Nix step the walk goes past: what the devShell promises for the next
 * steps is its `metal`, and that is the launcher's own text from nix/package.nix, put on PATH.
 * Tools the devShell brings that this machine lacks (sops) end the walk at the step that needs
 * them, said loudly in the test output.
 */
import { execa } from "execa";
import { chmod, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import which from "which";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadInventory } from "../src/inventory/load.js";
import { LAUNCHER_SHELL_OPTIONS, launcherText } from "./helpers/nix-launcher.js";

const REPO = new URL("../../../", import.meta.url).pathname;
const SECTION = "## On real hardware";
/** Cloning, then the launcher's first build of the clone. */
const WALK_TIMEOUT_MS = 10 * 60 * 1000;

/** The commands of the first sh block under the section heading, comments dropped. */
export function realHardwareSteps(readme: string): string[] {
  const section = readme.slice(readme.indexOf(SECTION));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined) throw new Error(`README.md: no sh block under "${SECTION}"`);
  return block
    .split("\n")
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter((line) => line !== "");
}

interface Walk {
  readonly clone: string;
  readonly env: NodeJS.ProcessEnv;
  /** Where the walk stopped and why; undefined while it goes on. */
  stoppedAt?: { step: string; reason: string };
  readonly ran: string[];
}

const sh = (walk: Walk, step: string) =>
  execa("sh", ["-c", step], { cwd: walk.clone, env: walk.env, reject: false });

/** Each README step: run it (or say why the walk stops there) and check its promise. */
const STEPS: ReadonlyArray<{
  readonly matches: RegExp;
  readonly run: (walk: Walk, step: string) => Promise<void>;
}> = [
  {
    // cp the example inventory, then edit it (EDITOR=true keeps the example as it is).
    matches: /^cp examples\/homelab\.toml cluster\.toml && \$EDITOR cluster\.toml$/,
    run: async (walk, step) => {
      const result = await sh(walk, step);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(await readFile(join(walk.clone, "cluster.toml"), "utf8")).toBe(
        await readFile(join(walk.clone, "examples/homelab.toml"), "utf8"),
      );
      const inventory = await loadInventory(join(walk.clone, "cluster.toml"));
      expect(inventory.hosts.length).toBeGreaterThan(0);
    },
  },
  {
    // The devShell: its metal is the launcher of nix/package.nix.
    matches: /^nix develop$/,
    run: async (walk) => {
      const bin = join(walk.clone, ".devshell-bin");
      await mkdir(bin);
      // writeShellApplication's preamble (nixpkgs trivial-builders): bash with its options.
      const options = LAUNCHER_SHELL_OPTIONS.map((option) => `-o ${option}`).join(" ");
      const script = `#!/usr/bin/env bash\nset ${options}\n${await launcherText(walk.clone)}`;
      await writeFile(join(bin, "metal"), script);
      await chmod(join(bin, "metal"), 0o755);
      walk.env.PATH = `${bin}:${walk.env.PATH ?? ""}`;
    },
  },
  {
    matches: /^metal --version$/,
    run: async (walk, step) => {
      const result = await sh(walk, step);
      expect(result.exitCode, result.stderr).toBe(0);
      const { version } = JSON.parse(
        await readFile(join(walk.clone, "packages/metal/package.json"), "utf8"),
      ) as { version: string };
      expect(result.stdout.trim()).toBe(version);
      // It is the clone's CLI that ran: the launcher built it there.
      expect(await readFile(join(walk.clone, "packages/metal/dist/cli.js"), "utf8")).toContain(
        "--version",
      );
    },
  },
  {
    matches: /^metal secrets init$/,
    run: async (walk, step) => {
      if (!(await which("sops", { nothrow: true, path: walk.env.PATH }))) {
        walk.stoppedAt = {
          step,
          reason: "sops comes from the devShell and is not on this machine",
        };
        return;
      }
      const result = await sh(walk, step);
      expect(result.exitCode, result.stderr).toBe(0);
      for (const file of [".sops.yaml", "secrets/cluster.yaml", "keys/admin.age"])
        await readFile(join(walk.clone, file));
    },
  },
  {
    matches: /^git add cluster\.toml \.sops\.yaml keys secrets$/,
    run: async (walk, step) => {
      const result = await sh(walk, step);
      expect(result.exitCode, result.stderr).toBe(0);
      const tracked = await execa(
        "git",
        ["ls-files", "cluster.toml", ".sops.yaml", "keys", "secrets"],
        {
          cwd: walk.clone,
        },
      );
      expect(tracked.stdout).toContain("cluster.toml");
      expect(tracked.stdout).toContain(".sops.yaml");
    },
  },
  ...[/^nix build \.#installer$/].map((matches) => ({
    matches,
    run: async (walk: Walk, step: string) => {
      walk.stoppedAt = { step, reason: "needs Nix with nixpkgs (no binary cache here)" };
    },
  })),
  ...[
    /^metal check$/,
    /^sudo env "PATH=\$PATH" metal install$/,
    /^metal deploy --dry-run && metal deploy$/,
  ].map((matches) => ({
    matches,
    run: async (walk: Walk, step: string) => {
      walk.stoppedAt = { step, reason: "needs the installer from Nix and the machines" };
    },
  })),
];

describe("the README's real-hardware steps", () => {
  const walk: Walk = { clone: "", env: { ...process.env }, ran: [] };
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "metal-readme-"));
    const clone = join(work, "metal");
    await execa("git", ["clone", "--quiet", "--no-hardlinks", REPO, clone]);
    // The clone gets this checkout's npm dependencies as hard links (installing them again
    // needs the registry and minutes), marked as installed from the clone's lock; the launcher
    // still builds the clone itself. Hard links, never a symlink: an npm ci through a link
    // would empty this checkout's node_modules.
    await execa("cp", ["-al", join(REPO, "node_modules"), join(clone, "node_modules")]);
    const now = new Date();
    await utimes(join(clone, "node_modules/.package-lock.json"), now, now);
    Object.assign(walk, { clone });
    delete walk.env.METAL_CHECKOUT;
    walk.env.EDITOR = "true";
  }, WALK_TIMEOUT_MS);
  afterAll(() => rm(work, { recursive: true, force: true }), WALK_TIMEOUT_MS);

  it("has a step check for every command of the README's block, in order", async () => {
    const steps = realHardwareSteps(await readFile(join(REPO, "README.md"), "utf8"));
    expect(steps[0]).toMatch(/^cp /);
    const unknown = steps.filter((step) => !STEPS.some((known) => known.matches.test(step)));
    expect(unknown, "README steps without a check in readme.test.ts").toEqual([]);
  });

  it(
    "keeps each step's promise up to the first one that needs Nix or hardware",
    async () => {
      const steps = realHardwareSteps(await readFile(join(REPO, "README.md"), "utf8"));
      for (const step of steps) {
        await STEPS.find((known) => known.matches.test(step))!.run(walk, step);
        if (walk.stoppedAt) break;
        walk.ran.push(step);
      }
      process.stdout.write(
        `README walk: ran ${walk.ran.length} steps; stopped at \`${walk.stoppedAt?.step}\`: ${walk.stoppedAt?.reason}\n`,
      );
      expect(walk.ran.slice(0, 3)).toEqual(steps.slice(0, 3));
      expect(walk.stoppedAt).toBeDefined();
    },
    WALK_TIMEOUT_MS,
  );
});
