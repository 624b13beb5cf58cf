/**
 * Is this host installed? Asked when its first boot stays silent, when a run finds it `installed`
 * or failed after its install, and when the state does not know it (the state directory was
 * deleted). The proof is an SSH login to its inventory address that OpenSSH accepts only with
 * strict checking against the host key `metal secrets` generated for it (`--extra-files` put
 * exactly that key on the installed system; an installer or a stranger has another one), and
 * the admin key. The options are every metal ssh's (ssh-options.ts: BatchMode,
 * StrictHostKeyChecking=yes, metal's known_hosts only); the line is secrets' (`knownHostsLine`). HostKeyAlias makes the
 * lookup by host name, without the `[host]:port` form a non-standard port would otherwise need
 * (openssh/openssh-portable, sshconnect.c, get_hostfile_hostname_ipaddr).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { sshOptions } from "../ssh-options.js";
import type { Host } from "../inventory/types.js";
import { knownHostsLine } from "../secrets/extra-files.js";
import { privatePaths } from "../secrets/layout.js";

export type InstalledProbe = (host: Host) => Promise<boolean>;

export const PROBE_CONNECT_TIMEOUT_SECONDS = 5;
/** Connect, key exchange, login and `true`; a host that takes longer is not answering. */
export const PROBE_TIMEOUT_MS = 20_000;

export interface PinnedSshProbeOptions {
  readonly secretsDir: string;
  /** Default 22. */
  readonly port?: number | undefined;
  readonly sshCommand?: string;
}

export function pinnedSshProbe(options: PinnedSshProbeOptions): InstalledProbe {
  return async (host) => {
    let line: string;
    try {
      line = await knownHostsLine(host, options.secretsDir);
    } catch {
      return false; // no pinned key: nothing can prove the host is ours
    }
    const directory = await mkdtemp(join(tmpdir(), "metal-probe-"));
    try {
      const knownHostsFile = join(directory, "known_hosts");
      await writeFile(knownHostsFile, `${line}\n`, { mode: 0o600 });
      const result = await execa(
        options.sshCommand ?? "ssh",
        [
          ...sshOptions({
            knownHostsFile,
            identityFile: privatePaths(options.secretsDir).adminSshKey,
            port: options.port,
          }),
          "-o",
          `HostKeyAlias=${host.name}`,
          "-o",
          `ConnectTimeout=${PROBE_CONNECT_TIMEOUT_SECONDS}`,
          "-o",
          "LogLevel=ERROR",
          `root@${host.address}`,
          "true",
        ],
        { reject: false, timeout: PROBE_TIMEOUT_MS, stdin: "ignore" },
      );
      return result.exitCode === 0;
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  };
}
