/**
 * A stand-in installer for fault tests: from a namespace on the lab network, PXE-boot as the
 * host (its DHCPREQUEST naming this namespace's address, then the iPXE script fetch, as iPXE
 * would), read the token from its kernel command line, and post the installer facts
 * (docs/callback-protocol.md §2) with curl. Returns the HTTP status.
 */
import type { NetHost } from "metal-lab";

const PXE_DHCP = new URL("./pxe-dhcp.entry.ts", import.meta.url).pathname;

/** The host's PXE DHCPREQUEST for `agent`'s address, broadcast from `agent`'s namespace. */
export async function sendPxeDhcpRequest(agent: NetHost, mac: string, address = agent.address) {
  await agent.run(process.execPath, [
    "--import",
    "tsx",
    PXE_DHCP,
    JSON.stringify({ mac, address }),
  ]);
}

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
    // Again each time: the server may not have been listening for the first one.
    await sendPxeDhcpRequest(agent, mac);
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
