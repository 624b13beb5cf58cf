/**
 * For a machine that PXE-booted but is in no `[[hosts]]` entry: a `[[hosts]]` block ready to paste
 * (free name, next free address), and the inventory MAC it most likely is a typo of.
 */
import { hostAddresses, ipv4ToNumber, parseCidr, type Cidr } from "../inventory/ipv4.js";
import type { Inventory } from "../inventory/types.js";
import type { UnknownMachine } from "../state/types.js";

/** RFC 4578 option 93 values of ARM64 UEFI (PXE and HTTP boot). */
const ARM64_ARCHES: readonly number[] = [11, 19];
/** At most this many differing hex digits counts as "probably a typo". */
const TYPO_DISTANCE = 2;

function hexDistance(a: string, b: string): number {
  const x = a.replaceAll(":", "");
  const y = b.replaceAll(":", "");
  let distance = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) distance++;
  return distance;
}

/** The inventory host whose MAC is closest to this one, when it differs in only a digit or two. */
export function likelyTypoOf(inventory: Inventory, mac: string): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const host of inventory.hosts) {
    const distance = hexDistance(host.mac, mac);
    if (distance <= TYPO_DISTANCE && (!best || distance < best.distance))
      best = { name: host.name, distance };
  }
  return best?.name;
}

/**
 * Free-address candidates, those after the inventory's highest host address first: hosts
 * usually sit in one block, and the low addresses tend to be the router's, the admin
 * machine's (where metal itself serves) or other infrastructure the inventory does not list.
 */
function* addressesAfterHosts(subnet: Cidr, hosts: readonly string[]): Generator<string> {
  const highest = Math.max(-1, ...hosts.map(ipv4ToNumber));
  for (const address of hostAddresses(subnet)) if (ipv4ToNumber(address) > highest) yield address;
  for (const address of hostAddresses(subnet)) if (ipv4ToNumber(address) <= highest) yield address;
}

/** Fresh names and addresses for several unknown machines at once (each gets its own). */
export function hostSnippets(
  inventory: Inventory,
  machines: readonly UnknownMachine[],
): Map<string, string> {
  const names = new Set(inventory.hosts.map((host) => host.name));
  const taken = new Set([
    ...inventory.hosts.map((host) => host.address),
    inventory.network.gateway,
    inventory.network.vip,
    ...inventory.network.dns,
  ]);
  const subnet = parseCidr(inventory.network.subnet)!;
  const free = addressesAfterHosts(
    subnet,
    inventory.hosts.map((host) => host.address),
  );
  const snippets = new Map<string, string>();
  let index = inventory.hosts.length + 1;
  for (const machine of machines) {
    while (names.has(`node${index}`)) index++;
    const name = `node${index}`;
    names.add(name);
    let address = free.next();
    while (!address.done && taken.has(address.value)) address = free.next();
    const ip = address.done
      ? `CHANGE-ME/${subnet.prefixLength}`
      : `${address.value}/${subnet.prefixLength}`;
    const lines = [
      "[[hosts]]",
      `name = "${name}"`,
      `mac = "${machine.mac}"`,
      `ip = "${ip}"`,
      'role = "agent"',
      'disk = "/dev/sda"                      # check: the disk to install to (best /dev/disk/by-id/…)',
    ];
    if (machine.arch !== undefined && ARM64_ARCHES.includes(machine.arch))
      lines.push('arch = "aarch64"');
    snippets.set(machine.mac, lines.join("\n"));
  }
  return snippets;
}
