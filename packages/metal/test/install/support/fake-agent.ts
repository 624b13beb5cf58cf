/**
 * A stand-in installer for fault tests: from a namespace on the lab network, fetch the host's
 * iPXE script (as iPXE would), read the token from its kernel command line, and post the
 * installer facts (docs/callback-protocol.md §2) with curl. Returns the HTTP status.
 */
import type { NetHost } from "metal-lab";

export const FAKE_INSTALLER_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfakeInstallerHostKeyForFaultTests0000000 root@installer";
const GIB = 1024 ** 3;
const FETCH_ATTEMPTS = 100;
const FETCH_PAUSE_MS = 200;

export async function fetchInstallerToken(
  agent: NetHost,
  server: string,
  mac: string,
): Promise<string> {
  for (let attempt = 1; attempt <= FETCH_ATTEMPTS; attempt++) {
    const result = await agent.run("curl", ["-sf", `http://${server}/boot/${mac}.ipxe`], {
      reject: false,
    });
    const token = /metal\.token=(\S+)/.exec(String(result.stdout))?.[1];
    if (token) return token;
    await new Promise((resolve) => setTimeout(resolve, FETCH_PAUSE_MS));
  }
  throw new Error(`no installer script for ${mac} from ${server}`);
}

export async function postInstallerFacts(
  agent: NetHost,
  server: string,
  token: string,
  mac: string,
): Promise<number> {
  const facts = {
    agent: "fake-agent/1",
    mac,
    ip: agent.address,
    sshHostKey: FAKE_INSTALLER_KEY,
    firmware: "bios",
    memoryBytes: GIB,
    disks: [{ name: "vda", path: "/dev/vda", sizeBytes: 8 * GIB }],
  };
  const result = await agent.run("curl", [
    "-s",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "-X",
    "POST",
    "-H",
    `Authorization: Bearer ${token}`,
    "-H",
    "Content-Type: application/json",
    "--data",
    JSON.stringify(facts),
    `http://${server}/callback/v1/installer`,
  ]);
  return Number(result.stdout);
}
