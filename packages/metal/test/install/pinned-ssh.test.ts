/**
 * SSH pinning that holds for every ssh an install starts (issue 11 item 3). The REAL
 * nixos-anywhere script (../shared/nix-sources/nixos-anywhere.tar.gz, src/nixos-anywhere.sh)
 * runs metal's default install command with a recording `ssh` (and a `nix` that connects the
 * way nix does) on PATH; each recorded argv is then given to the real `ssh -G`, which prints
 * the options OpenSSH would use. With metal's pinned ssh first on PATH, every call checks the
 * host key strictly against the pinned file; without it, nixos-anywhere's own
 * `UserKnownHostsFile=/dev/null StrictHostKeyChecking=no` come first and win.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_INSTALL_COMMAND, expandTemplate } from "../../src/install/command-template.js";
import { createPinnedSsh } from "../../src/install/pinned-ssh.js";
import { FAKE_INSTALLER_KEY } from "./support/fake-agent.js";

const NIXOS_ANYWHERE_TARBALL = new URL(
  "../../../../../shared/nix-sources/nixos-anywhere.tar.gz",
  import.meta.url,
).pathname;
const RECORDER_DIR = new URL("./support/ssh-recorder", import.meta.url).pathname;
const INSTALLER_IP = "10.77.0.143";
const RUN_TIMEOUT_MS = 120_000;

interface Effective {
  readonly argv: readonly string[];
  readonly options: ReadonlyMap<string, string>;
}

let work: string;
let script: string;
let realSsh: string;

beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), "metal-pinned-ssh-"));
  await execa("tar", ["-xzf", NIXOS_ANYWHERE_TARBALL, "-C", work]);
  script = path.join(work, "nixos-anywhere", "src", "nixos-anywhere.sh");
  realSsh = (await execa("sh", ["-c", "command -v ssh"])).stdout.trim();
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs nixos-anywhere as metal's default command would, and returns what each ssh used. */
async function runNixosAnywhere(
  searchPath: string,
  extraArguments: readonly string[],
): Promise<Effective[]> {
  const records = await mkdtemp(path.join(work, "calls-"));
  const knownHosts = path.join(work, "known_hosts");
  const key = path.join(work, "admin_ed25519");
  const extraFiles = path.join(work, "extra");
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).catch(() => undefined);
  await execa("mkdir", ["-p", extraFiles]);
  const [, ...argv] = expandTemplate(DEFAULT_INSTALL_COMMAND, {
    flake: "/srv/homelab",
    host: "node1",
    ip: INSTALLER_IP,
    address: "10.77.0.11",
    disk: "/dev/vda",
    key,
    extra_files: extraFiles,
    known_hosts: knownHosts,
    work_dir: work,
  });
  const result = await execa("bash", [script, ...argv, ...extraArguments], {
    env: { PATH: searchPath, SSH_RECORD_DIR: records, REAL_SSH: realSsh, HOME: work },
    reject: false,
    all: true,
    stdin: "ignore",
    timeout: RUN_TIMEOUT_MS,
  });
  expect(result.all).toContain("### Done! ###");
  const calls = (await readdir(records)).filter((name) => name.startsWith("call."));
  return Promise.all(
    calls.map(async (name) => {
      const recorded = (await readFile(path.join(records, name), "utf8")).split("\0").slice(0, -1);
      const printed = await execa(realSsh, ["-G", ...recorded]);
      const options = new Map(
        printed.stdout.split("\n").map((line) => {
          const space = line.indexOf(" ");
          return [line.slice(0, space), line.slice(space + 1)] as const;
        }),
      );
      return { argv: recorded, options };
    }),
  );
}

describe.skipIf(!existsSync(NIXOS_ANYWHERE_TARBALL))(
  "host-key pinning under nixos-anywhere",
  () => {
    it(
      "makes every ssh the real nixos-anywhere starts (ssh -G, ssh-copy-id, facts, nix copy, extra files, install, reboot) check strictly against the pinned file",
      async () => {
        const knownHosts = path.join(work, "known_hosts");
        await writeFile(knownHosts, `${INSTALLER_IP} ${FAKE_INSTALLER_KEY}\n`);
        const pinned = await createPinnedSsh(
          path.join(work, "pinned-ssh"),
          knownHosts,
          `${RECORDER_DIR}${path.delimiter}${process.env.PATH ?? ""}`,
        );
        const calls = await runNixosAnywhere(pinned.path, []);
        const commands = calls.map((call) => call.argv.join(" "));
        // The kinds of connection nixos-anywhere makes, each seen at least once.
        expect(commands.some((c) => c.includes(" -G "))).toBe(true);
        expect(commands.some((c) => c.includes("nix-store --serve --write"))).toBe(true);
        expect(commands.some((c) => c.includes("tar -C /mnt -xf-"))).toBe(true);
        expect(commands.some((c) => c.endsWith("exit 0"))).toBe(true);
        expect(calls.length).toBeGreaterThanOrEqual(8);
        for (const call of calls) {
          expect(call.options.get("stricthostkeychecking"), call.argv.join(" ")).toBe("true");
          expect(call.options.get("userknownhostsfile"), call.argv.join(" ")).toBe(knownHosts);
          expect(call.options.get("globalknownhostsfile"), call.argv.join(" ")).toBe("/dev/null");
          expect(call.options.get("updatehostkeys"), call.argv.join(" ")).toBe("false");
        }
      },
      RUN_TIMEOUT_MS,
    );

    it(
      "shows why: without metal's ssh, nixos-anywhere's own options come first and a pinned --ssh-option is ignored",
      async () => {
        const knownHosts = path.join(work, "known_hosts");
        const calls = await runNixosAnywhere(
          `${RECORDER_DIR}${path.delimiter}${process.env.PATH ?? ""}`,
          [
            "--ssh-option",
            `UserKnownHostsFile=${knownHosts}`,
            "--ssh-option",
            "StrictHostKeyChecking=yes",
          ],
        );
        expect(calls.length).toBeGreaterThanOrEqual(8);
        for (const call of calls) {
          expect(call.options.get("stricthostkeychecking")).toBe("false");
          expect(call.options.get("userknownhostsfile")).toBe("/dev/null");
        }
      },
      RUN_TIMEOUT_MS,
    );
  },
);
