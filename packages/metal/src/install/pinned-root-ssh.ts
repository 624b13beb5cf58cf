/**
 * One command as root on a host's inventory address, over SSH that accepts only the host key
 * `metal secrets` generated for it (`knownHostsLine`, written to a private known_hosts for this
 * call) and logs in with the admin key. The options are every metal ssh's (ssh-options.ts).
 * HostKeyAlias makes the lookup by host name, without the `[host]:port` form a non-standard port
 * would otherwise need (openssh/openssh-portable, sshconnect.c, get_hostfile_hostname_ipaddr).
 * Used by the installed probe (is this host ours and installed?) and by `metal reinstall`
 * (make it boot from the network once).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type Result } from "execa";
import type { Host } from "../inventory/types.js";
import { knownHostsLine } from "../secrets/extra-files.js";
import { privatePaths } from "../secrets/layout.js";
import { sshOptions } from "../ssh-options.js";

export interface PinnedRootSshOptions {
  readonly secretsDir: string;
  /** Default 22. */
  readonly port?: number | undefined;
  readonly connectTimeoutSeconds: number;
  /** The whole command, connection included: a host that hangs after login is given up on. */
  readonly timeoutMs: number;
}

/** Runs `command`; never rejects for the remote side (exit code and output are the answer). */
export async function runPinnedRootSsh(
  host: Host,
  command: string,
  options: PinnedRootSshOptions,
): Promise<Result<{ reject: false; stdin: "ignore"; timeout: number }>> {
  const line = await knownHostsLine(host, options.secretsDir);
  const directory = await mkdtemp(join(tmpdir(), "metal-ssh-"));
  try {
    const knownHostsFile = join(directory, "known_hosts");
    await writeFile(knownHostsFile, `${line}\n`, { mode: 0o600 });
    return await execa(
      "ssh",
      [
        ...sshOptions({
          knownHostsFile,
          identityFile: privatePaths(options.secretsDir).adminSshKey,
          port: options.port,
        }),
        "-o",
        `HostKeyAlias=${host.name}`,
        "-o",
        `ConnectTimeout=${options.connectTimeoutSeconds}`,
        "-o",
        "LogLevel=ERROR",
        `root@${host.address}`,
        command,
      ],
      { reject: false, stdin: "ignore", timeout: options.timeoutMs },
    );
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
