/**
 * The state store's interface, kept narrow on purpose (DESIGN §8): read, change a host with
 * compare-and-set on its phase, record an unknown machine, watch events. The file store is the
 * embedded default; a Kubernetes store (a `Machine` resource per host, resourceVersion as the
 * compare-and-set) can implement the same interface without touching the install flow.
 */
import type {
  ClusterState,
  HostRecord,
  Phase,
  StateEvent,
  TokenPurpose,
  TokenRecord,
} from "./types.js";

/** Fields of a host that a change may set besides its phase. */
export interface HostFieldUpdate {
  readonly tokens?: Readonly<Partial<Record<TokenPurpose, TokenRecord>>>;
  readonly installer?: HostRecord["installer"];
}

export interface HostChange {
  /** Compare-and-set: the change applies only if the host is in one of these phases now. */
  readonly expect: Phase | readonly Phase[];
  /** The new phase; omitted, the phase stays and only the step and fields change. */
  readonly to?: Phase;
  /** What happened, in words; becomes the host's last step. */
  readonly step: string;
  /** With `to: "failed"`: why. */
  readonly reason?: string;
  /** Computed from the host as it is at apply time, so it cannot race another change. */
  readonly update?: (host: HostRecord) => HostFieldUpdate;
  /** A move's condition beyond its phase (lifecycle.ts), checked at apply time. */
  readonly when?: (host: HostRecord) => boolean;
}

export interface StateStore {
  /** The state as last persisted. */
  snapshot(): ClusterState;
  host(name: string): HostRecord | undefined;
  hostsInPhase(...phases: Phase[]): HostRecord[];
  /** Adds a `pending` record for each name not in the state yet; known hosts are untouched. */
  register(names: readonly string[]): Promise<void>;
  /**
   * Applies a change if the host is in an expected phase (else PhaseConflictError) and the
   * transition is allowed (else IllegalTransitionError). Entering `pending` from a finished
   * phase starts a new attempt and forgets the old attempt's tokens and installer.
   */
  change(name: string, change: HostChange): Promise<HostRecord>;
  /** Every event, after it is persisted. Returns the unsubscribe function. */
  on(type: "event", listener: (event: StateEvent) => void): () => void;
  /** The event history, oldest first. */
  history(): Promise<StateEvent[]>;
  close(): Promise<void>;
}
