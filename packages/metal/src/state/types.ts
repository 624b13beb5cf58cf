/**
 * What metal remembers between runs: each host's place in the install flow, the token hashes that
 * authenticate its callbacks, what its installer reported, machines seen but not in the
 * inventory, and an append-only history of events. docs/state.md draws the phases.
 */

export const PHASES = [
  "pending",
  "waking",
  "pxe",
  "installer",
  "installing",
  "installed",
  "ready",
  "failed",
] as const;
export type Phase = (typeof PHASES)[number];

/** What the installer's agent reported (docs/callback-protocol.md §2), kept once accepted. */
export interface InstallerFacts {
  readonly agent: string;
  readonly mac: string;
  readonly ip: string;
  readonly hostname?: string | undefined;
  readonly sshHostKey: string;
  readonly firmware: "uefi" | "bios";
  readonly memoryBytes: number;
  readonly disks: ReadonlyArray<{
    readonly name: string;
    readonly path: string;
    readonly sizeBytes: number;
    readonly model?: string | undefined;
    readonly serial?: string | undefined;
    readonly byId?: readonly string[] | undefined;
  }>;
}

export type TokenPurpose = "installer" | "first-boot";

/** A callback token as stored: only its SHA-256, never the token itself. */
export interface TokenRecord {
  /** Hex SHA-256 of the whole token text. */
  readonly sha256: string;
  /** The install attempt it was minted for. */
  readonly attempt: number;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Set when a callback used it: a second use is a replay. */
  readonly usedAt?: number | undefined;
}

export interface HostRecord {
  readonly name: string;
  readonly phase: Phase;
  /** 1 for the first install; `--reinstall` and retries after `failed` start a new attempt. */
  readonly attempt: number;
  /** The last thing that happened to the host, in words ("DHCP from UEFI x64 firmware"). */
  readonly lastStep: string;
  /** When `phase` is `failed`: why, and in which phase it failed. */
  readonly failure?: { readonly reason: string; readonly phase: Phase } | undefined;
  /** When the host entered its current phase (ms since the epoch). */
  readonly since: number;
  readonly updatedAt: number;
  readonly tokens: Readonly<Partial<Record<TokenPurpose, TokenRecord>>>;
  /** The installer that called back for this attempt: the SSH host key is pinned from here. */
  readonly installer?:
    | {
        readonly sshHostKey: string;
        readonly ip: string;
        readonly facts: InstallerFacts;
      }
    | undefined;
}

/** A PXE client whose MAC is in no `[[hosts]]` entry: often a typo in the inventory. */
export interface UnknownMachine {
  readonly mac: string;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly count: number;
  /** DHCP option 93 of the last sighting, when it carried one. */
  readonly arch?: number | undefined;
}

export interface ClusterState {
  readonly version: 1;
  /** Sequence number of the last event; the next event gets seq + 1. */
  readonly seq: number;
  readonly hosts: Readonly<Record<string, HostRecord>>;
}

interface EventBase {
  readonly seq: number;
  readonly time: number;
}

export type StateEvent =
  | (EventBase & {
      readonly type: "host.added";
      readonly host: string;
    })
  | (EventBase & {
      readonly type: "host.phase";
      readonly host: string;
      readonly from: Phase;
      readonly to: Phase;
      readonly attempt: number;
      readonly step: string;
      readonly reason?: string | undefined;
    })
  | (EventBase & {
      readonly type: "host.step";
      readonly host: string;
      readonly phase: Phase;
      readonly step: string;
    });

type WithoutStamp<E> = E extends StateEvent ? Omit<E, "seq" | "time"> : never;
export type StateEventInput = WithoutStamp<StateEvent>;
