/** Shared pieces of the deploy tests: a cluster inventory and a stand-in for nix/nixos-rebuild. */
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DeployCommands } from "../../src/deploy/command-templates.js";
import type { Host, Inventory } from "../../src/inventory/types.js";

/** Stands in for nix and nixos-rebuild: records its argv, prints what the real tools would. */
export const ACTIVATION_SCRIPT = `#!/bin/sh
dir=$(dirname "$0")
echo "$*" >> "$dir/calls.log"
cmd=$1
host=$2
if [ -e "$dir/fail-$cmd-$host" ]; then echo "simulated $cmd failure on $host" >&2; exit 3; fi
case $cmd in confirm|rollback|current-generation)
  if [ -e "$dir/unreachable-$host" ]; then echo "ssh: connect to host $host port 22: Connection refused" >&2; exit 255; fi ;;
esac
case $cmd in
  build) echo "building $host" >&2; echo "/nix/store/0000-nixos-system-$host" ;;
  current-boot) printf '/nix/store/k1-linux/bzImage\\n/nix/store/i1-initrd/initrd\\n' ;;
  new-boot) if [ -e "$dir/new-kernel-$host" ]; then echo /nix/store/k2-linux/bzImage; else echo /nix/store/k1-linux/bzImage; fi
            echo /nix/store/i1-initrd/initrd ;;
  switch) touch "$dir/switched-$host" ;;
  current-generation) if [ -e "$dir/switched-$host" ]; then echo system-43-link; else echo system-42-link; fi ;;
  rollback) rm -f "$dir/switched-$host" ;;
  # The watchdog: unless confirm stops it first, it switches back after its delay by itself.
  arm) (sleep "$5"; if [ -e "$dir/armed-$host" ]; then
          rm -f "$dir/switched-$host" "$dir/unreachable-$host" "$dir/armed-$host"
          echo "watchdog fired $host $4" >> "$dir/calls.log"; fi) >/dev/null 2>&1 &
       touch "$dir/armed-$host" ;;
  confirm) if [ -e "$dir/armed-$host" ]; then rm -f "$dir/armed-$host"; else echo "Unit $3.timer not loaded." >&2; exit 5; fi ;;
esac
if [ -e "$dir/after-$cmd-$host" ]; then sh "$dir/after-$cmd-$host"; fi
`;

export function testCommands(script: string): DeployCommands {
  return {
    build: [script, "build", "{host}", "{flake}"],
    currentBoot: [script, "current-boot", "{host}", "{address}", "{ssh_options}"],
    newBoot: [script, "new-boot", "{host}", "{toplevel}"],
    switch: [script, "switch", "{host}", "{flake}#{host}", "root@{address}"],
    boot: [script, "boot", "{host}", "{flake}#{host}", "root@{address}"],
    reboot: [script, "reboot", "{host}", "root@{address}"],
    k3sHealth: [script, "k3s-health", "{host}"],
    currentGeneration: [script, "current-generation", "{host}"],
    armRollback: [script, "arm", "{host}", "{rollback_unit}", "{generation}", "{confirm_seconds}"],
    confirm: [script, "confirm", "{host}", "{rollback_unit}"],
    rollback: [script, "rollback", "{host}", "{generation}"],
    rollbackBoot: [script, "rollback-boot", "{host}", "{generation}"],
  };
}

export function host(name: string, role: "server" | "agent", index: number, init = false): Host {
  return {
    name,
    mac: `52:54:00:00:00:0${index}`,
    address: `192.0.2.${10 + index}`,
    prefixLength: 24,
    role,
    init,
    disk: "/dev/vda",
    arch: "x86_64",
    firstStage: undefined,
    rootSize: "64G",
    interface: undefined,
  };
}

export function inventory(hosts: Host[]): Inventory {
  return {
    source: "/lab/cluster.toml",
    cluster: { name: "lab", domain: "home.arpa", flake: "/lab", gitopsRepo: undefined },
    network: {
      interface: "br0",
      subnet: "192.0.2.0/24",
      gateway: "192.0.2.1",
      dns: [],
      vip: "192.0.2.5",
    },
    k3s: { disable: [], extraFlags: [] },
    install: { rootSize: "64G", parallel: 2, retries: 0, command: undefined },
    hosts,
  };
}

export const CLUSTER = inventory([
  host("s1", "server", 1, true),
  host("s2", "server", 2),
  host("s3", "server", 3),
  host("a1", "agent", 4),
  host("a2", "agent", 5),
  host("a3", "agent", 6),
]);

/** Writes the stand-in activation script into `dir`; it logs its calls to `dir/calls.log`. */
export async function writeActivationScript(dir: string): Promise<string> {
  const script = join(dir, "activate.sh");
  await writeFile(script, ACTIVATION_SCRIPT);
  await chmod(script, 0o755);
  return script;
}
