/**
 * Is this host installed? Asked when its first boot stays silent, when a run finds it `installed`
 * or failed after its install, and when the state does not know it (the state directory was
 * deleted). The proof is an SSH login to its inventory address that OpenSSH accepts only with
 * strict checking against the host key `metal secrets` generated for it (`--extra-files` put
 * exactly that key on the installed system; an installer or a stranger has another one), and
 * the admin key. The login is pinned-root-ssh.ts's.
 */
import type { Host } from "../inventory/types.js";
import { HostKeyMissingError } from "../secrets/errors.js";
import { runPinnedRootSsh } from "./pinned-root-ssh.js";

export type InstalledProbe = (host: Host) => Promise<boolean>;

export const PROBE_CONNECT_TIMEOUT_SECONDS = 5;
/** Connect, key exchange, login and `true`; a host that takes longer is not answering. */
export const PROBE_TIMEOUT_MS = 20_000;

export interface PinnedSshProbeOptions {
  readonly secretsDir: string;
  /** Default 22. */
  readonly port?: number | undefined;
}

export function pinnedSshProbe(options: PinnedSshProbeOptions): InstalledProbe {
  return async (host) => {
    try {
      const result = await runPinnedRootSsh(host, "true", {
        ...options,
        connectTimeoutSeconds: PROBE_CONNECT_TIMEOUT_SECONDS,
        timeoutMs: PROBE_TIMEOUT_MS,
      });
      return result.exitCode === 0;
    } catch (error) {
      // No pinned key: nothing can prove the host is ours.
      if (error instanceof HostKeyMissingError) return false;
      throw error;
    }
  };
}
