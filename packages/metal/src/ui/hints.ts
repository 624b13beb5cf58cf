/**
 * Known PXE and install failures, each as a symptom the dashboard can see in a host's events and
 * the fix that most often cures it. PXE failures are mostly silent (the machine just retries), so
 * the symptoms are patterns: offers sent but nothing fetched, a 4011 that never came, a kernel
 * downloaded but no callback. docs/dashboard.md shows this table to users; keep them in step.
 */
import type { Phase } from "../state/types.js";

/** What the dashboard has seen of one machine, the input of every rule. */
export interface HostObservations {
  readonly phase: Phase;
  /** Proxy offers we sent on port 67. */
  readonly offers: number;
  /** The last offer went to UEFI firmware (which then should ask on 4011 or fetch by TFTP). */
  readonly uefi: boolean;
  /** An offer went to UEFI HTTP boot firmware: it fetches a URL and never asks on 4011. */
  readonly httpBoot: boolean;
  readonly requestsOn4011: number;
  readonly tftpStarted: number;
  /** A file was downloaded over HTTP before any script: the first stage of UEFI HTTP boot. */
  readonly httpFirstStage: boolean;
  readonly tftpErrors: number;
  /** iPXE fetched its script (it took our offer and reached HTTP). */
  readonly scriptServed: boolean;
  /** Downloads that ended before their last byte. */
  readonly abortedDownloads: number;
  /** When the last kernel or initrd download finished completely (ms since the epoch). */
  readonly bootFilesDoneAt: number | undefined;
  readonly policyErrors: number;
  readonly failureReason: string | undefined;
}

export interface Hint {
  readonly id: string;
  readonly symptom: string;
  readonly fix: string;
}

/** Firmware retries DISCOVER about 4 times before it gives up; 3 offers mean it is not taking them. */
export const OFFERS_BEFORE_SUSPICION = 3;
/** The stand-in installer calls back within seconds; a real NixOS installer within about a minute. */
export const CALLBACK_GRACE_MS = 3 * 60 * 1000;

interface Rule extends Hint {
  readonly matches: (seen: HostObservations, now: number) => boolean;
}

const nothingFetched = (seen: HostObservations) =>
  seen.tftpStarted === 0 &&
  !seen.httpFirstStage &&
  !seen.scriptServed &&
  seen.offers >= OFFERS_BEFORE_SUSPICION;

export const HINT_RULES: readonly Rule[] = [
  {
    id: "uefi-4011-unanswered",
    symptom: "UEFI client got our offers but never asked on port 4011, and fetched nothing",
    fix: "UEFI firmware asks the boot server on UDP 4011 and got no answer: check the firewall for UDP 4011 (and 69) on this machine",
    matches: (seen) =>
      seen.uefi && !seen.httpBoot && seen.requestsOn4011 === 0 && nothingFetched(seen),
  },
  {
    id: "http-boot-url-unfetched",
    symptom: "UEFI HTTP boot client got our offers (an http:// URL) but fetched nothing",
    fix: "the firmware did not download the URL in the offer: check that this server's HTTP port is reachable over TCP from the machine, and that its firmware setup allows HTTP (not only HTTPS) boot URLs",
    matches: (seen) => seen.httpBoot && nothingFetched(seen),
  },
  {
    id: "proxy-offer-ignored",
    symptom: "DHCP DISCOVERs answered, but no TFTP or HTTP request followed",
    fix: "the firmware ignored the proxy offer: set DHCP options 66 (next server) and 67 (boot file) on the router, or check that no other PXE server answers first",
    matches: (seen) => !seen.uefi && nothingFetched(seen),
  },
  {
    id: "tftp-failed",
    symptom: "a TFTP transfer failed",
    fix: "the first stage did not arrive: check UDP 69 and the high ports of the transfer in the firewall, and that the first-stage file exists (netboot's first-stage directory)",
    matches: (seen) => seen.tftpErrors > 0,
  },
  {
    id: "download-aborted",
    symptom: "a kernel or initrd download stopped before its last byte",
    fix: "the machine gave up mid-download: check the link (cable, switch port speed) and that the machine has enough RAM for the initrd",
    matches: (seen) => seen.abortedDownloads > 0 && seen.bootFilesDoneAt === undefined,
  },
  {
    id: "no-callback",
    symptom:
      "the installer's kernel and initrd were downloaded but the installer never called back",
    fix: "check that the callback URL (this server's address and HTTP port) is reachable from the machine's network, and look at the machine's console",
    matches: (seen, now) =>
      seen.phase === "pxe" &&
      seen.bootFilesDoneAt !== undefined &&
      now - seen.bootFilesDoneAt > CALLBACK_GRACE_MS,
  },
  {
    id: "boot-policy",
    symptom: "the boot policy failed for this machine",
    fix: "read the error: usually missing installer files (run `nix build .#installer` or pass --installer)",
    matches: (seen) => seen.policyErrors > 0,
  },
  {
    id: "disk-mismatch",
    symptom: "the install failed over the disk",
    fix: "compare the host's `disk` in the inventory with the disks its installer reported (see the callback facts) and fix the inventory",
    matches: (seen) => seen.phase === "failed" && /\bdisk\b/i.test(seen.failureReason ?? ""),
  },
  {
    id: "no-first-boot",
    symptom: "the installed system never called back from its first boot",
    fix: "the machine probably booted the network again or has no boot entry: set the disk first in the boot order (PXE after it), then check its console",
    matches: (seen) =>
      seen.phase === "failed" && /first boot|did not call back/i.test(seen.failureReason ?? ""),
  },
];

export function hintsFor(seen: HostObservations, now: number): Hint[] {
  return HINT_RULES.filter((rule) => rule.matches(seen, now)).map(({ id, symptom, fix }) => ({
    id,
    symptom,
    fix,
  }));
}
