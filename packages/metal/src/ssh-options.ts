/**
 * SSH options every metal connection uses (deploy's switches and tunnel, install's installed
 * probe, reinstall's network-boot login): batch mode and strict host key checking against a
 * known_hosts file metal controls, never the user's trust-on-first-use defaults.
 */
export interface SshSettings {
  /** OpenSSH known_hosts holding every node's host key. */
  readonly knownHostsFile: string;
  /** Private key to log in with; the ssh agent and default keys otherwise. */
  readonly identityFile: string | undefined;
  readonly port: number | undefined;
}

/**
 * Beside strict checking against metal's file: no other source of trusted keys. ssh_config(5)
 * (OpenSSH 9.2): GlobalKnownHostsFile is read beside the user's file; KnownHostsCommand obtains
 * host keys "in addition to those listed in UserKnownHostsFile and GlobalKnownHostsFile";
 * UpdateHostKeys lets a server have more of its keys added after authentication.
 */
export const NO_OTHER_HOST_KEYS = [
  "GlobalKnownHostsFile=/dev/null",
  "KnownHostsCommand=none",
  "UpdateHostKeys=no",
] as const;

export function sshOptions(settings: SshSettings): string[] {
  return [
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${settings.knownHostsFile}`,
    // Only metal's file decides which host keys are trusted.
    ...NO_OTHER_HOST_KEYS.flatMap((option) => ["-o", option]),
    ...(settings.identityFile ? ["-o", "IdentitiesOnly=yes", "-i", settings.identityFile] : []),
    ...(settings.port === undefined ? [] : ["-p", String(settings.port)]),
  ];
}
