/**
 * Host-key pinning that holds for every ssh an install starts (issue 11, ADR 0171).
 *
 * nixos-anywhere builds its ssh arguments as `-o UserKnownHostsFile=/dev/null -o
 * StrictHostKeyChecking=no` and appends each `--ssh-option` after them
 * (nix-community/nixos-anywhere src/nixos-anywhere.sh: `sshArgs` at line 70, `--ssh-option`
 * at lines 240-241), and OpenSSH keeps the first value it obtains for an option (ssh_config(5):
 * "the first obtained value will be used"), so a pinned known_hosts given as `--ssh-option` is
 * ignored. Every ssh it starts is found on PATH by name: its `runSsh`/`runSshNoTty`/
 * `runSshTimeout` helpers (lines 470-488), `ssh -G` (line 979), `ssh-copy-id` (lines 554-567),
 * and `nix copy`/`nix build` over ssh:// and ssh-ng:// with NIX_SSHOPTS (lines 490-502): nix
 * runs `ssh HOST -x` + NIX_SSHOPTS through execvpe, i.e. from PATH (NixOS/nix
 * src/libstore/ssh.cc, SSHMaster::startCommand). No scp or rsync is used. So the install command runs with a directory first on
 * PATH whose `ssh` puts the pinned options FIRST and then passes every argument on unchanged:
 * whatever the caller adds later is a second value OpenSSH ignores. No argument is parsed or
 * dropped, so nothing in a remote command can be misread as an option.
 */
import { access, chmod, constants, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { NO_OTHER_HOST_KEYS } from "../ssh-options.js";
import { ConfigError } from "./errors.js";

export const SSH_PROGRAM = "ssh";

/**
 * The options that make a connection accept exactly the pinned key: strict checking against
 * the one file, no global file, no KnownHostsCommand, and no learning of new keys.
 */
export function pinnedSshOptions(knownHostsFile: string): readonly string[] {
  // Quoted: UserKnownHostsFile takes a whitespace-separated list (ssh_config(5)).
  return [
    "StrictHostKeyChecking=yes",
    `UserKnownHostsFile="${knownHostsFile}"`,
    ...NO_OTHER_HOST_KEYS,
  ];
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The first executable `ssh` on `searchPath` outside `exclude`. */
export async function findProgram(
  name: string,
  searchPath: string,
  exclude: string,
): Promise<string | undefined> {
  for (const directory of searchPath.split(path.delimiter)) {
    if (directory === "" || path.resolve(directory) === path.resolve(exclude)) continue;
    const candidate = path.join(directory, name);
    const usable = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (usable) return candidate;
  }
  return undefined;
}

export interface PinnedSsh {
  /** The PATH to run the install command with: the wrapper directory first. */
  readonly path: string;
  readonly cleanup: () => Promise<void>;
}

/**
 * Writes `DIR/ssh`, which runs the real ssh with the pinned options first, and returns the
 * PATH that puts it first. The real ssh is resolved now, from `searchPath`.
 */
export async function createPinnedSsh(
  directory: string,
  knownHostsFile: string,
  searchPath: string,
): Promise<PinnedSsh> {
  if (knownHostsFile.includes('"')) {
    throw new ConfigError(
      `the known_hosts path ${knownHostsFile} contains a double quote, which ssh cannot be given; ` +
        "use a state directory without one",
    );
  }
  const realSsh = await findProgram(SSH_PROGRAM, searchPath, directory);
  if (realSsh === undefined) {
    throw new ConfigError(
      `no ${SSH_PROGRAM} program on PATH (${searchPath}): installs connect over SSH; install the OpenSSH client`,
    );
  }
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const options = pinnedSshOptions(knownHostsFile).flatMap((option) => ["-o", option]);
  const script = [
    "#!/bin/sh",
    "# metal (install/pinned-ssh.ts): the pinned host key first; OpenSSH keeps first values.",
    `exec ${[realSsh, ...options].map(shellQuote).join(" ")} "$@"`,
    "",
  ].join("\n");
  const wrapper = path.join(directory, SSH_PROGRAM);
  await writeFile(wrapper, script, { mode: 0o700 });
  await chmod(wrapper, 0o700);
  return {
    path: `${directory}${path.delimiter}${searchPath}`,
    cleanup: () => rm(directory, { recursive: true, force: true }),
  };
}
