/**
 * The cluster-wide deploy lock (ADR 0210): one coordination.k8s.io/v1 Lease,
 * `kube-system/metal-deploy`, held by the running deploy and renewed while it runs, so a second
 * `metal deploy` from any machine refuses before it touches a node. Semantics follow the API's
 * LeaseSpec (kubernetes staging/src/k8s.io/api/coordination/v1/types.go: `holderIdentity`,
 * `leaseDurationSeconds` "a duration that candidates for a lease need to wait to force acquire
 * it … measured against the time of last observed renewTime", `acquireTime`, `renewTime`,
 * `leaseTransitions`) and client-go's leader election (tools/leaderelection/leaderelection.go,
 * `tryAcquireOrRenew`: a lease held by another identity and not expired is left alone; taking
 * one over increments leaseTransitions; every write is an update carrying the resourceVersion
 * that was read, so two candidates cannot both win; `release` empties the holder).
 *
 * Deviation: client-go judges expiry by when it last saw the record change (its own clock); a
 * one-shot CLI has not watched, so metal judges by `renewTime` and the local clock. A clock more
 * than LEASE_DURATION_SECONDS ahead of the other deployer's could take over a live lease; the
 * local lock still keeps two deploys apart on one machine.
 */
import { hostname } from "node:os";
import {
  LeaseConflict,
  type ClusterApi,
  type LeaseRecord,
  type StoredLease,
} from "./cluster-api.js";
import { DeployLeaseLostError, DeployLockedError } from "./errors.js";

export const DEPLOY_LEASE_NAMESPACE = "kube-system";
export const DEPLOY_LEASE_NAME = "metal-deploy";
export const LEASE_DURATION_SECONDS = 60;
/** Renewals per lease duration: two may fail before the lease can expire. */
const RENEWALS_PER_DURATION = 3;
const MS_PER_SECOND = 1000;

export interface LeaseSettings {
  readonly durationSeconds: number;
  readonly now: () => number;
}

export const DEFAULT_LEASE_SETTINGS: LeaseSettings = {
  durationSeconds: LEASE_DURATION_SECONDS,
  now: () => Date.now(),
};

/** Who holds the lease, readable in the refusal another deploy prints. */
export function deployIdentity(deployId: string): string {
  return `${hostname()}/pid ${process.pid}/deploy ${deployId}`;
}

export function leaseExpiresAt(record: LeaseRecord): number {
  return record.renewTime + record.leaseDurationSeconds * MS_PER_SECOND;
}

function isLive(record: LeaseRecord, now: number): boolean {
  return record.holderIdentity !== "" && leaseExpiresAt(record) > now;
}

/** Takes the lease, or throws DeployLockedError naming who holds it and until when. */
export async function acquireDeployLease(
  api: ClusterApi,
  identity: string,
  settings: LeaseSettings = DEFAULT_LEASE_SETTINGS,
): Promise<HeldLease> {
  const now = settings.now();
  const mine = (transitions: number): LeaseRecord => ({
    holderIdentity: identity,
    leaseDurationSeconds: settings.durationSeconds,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: transitions,
  });
  const existing = await api.readLease(DEPLOY_LEASE_NAMESPACE, DEPLOY_LEASE_NAME);
  try {
    if (!existing) {
      const created = await api.createLease(DEPLOY_LEASE_NAMESPACE, DEPLOY_LEASE_NAME, mine(0));
      return new HeldLease(identity, created, settings);
    }
    if (isLive(existing.record, now) && existing.record.holderIdentity !== identity) {
      throw lockedBy(existing.record, now);
    }
    const taken = await api.replaceLease(
      DEPLOY_LEASE_NAMESPACE,
      DEPLOY_LEASE_NAME,
      mine(existing.record.leaseTransitions + 1),
      existing.resourceVersion,
    );
    return new HeldLease(identity, taken, settings);
  } catch (error) {
    if (!(error instanceof LeaseConflict)) throw error;
    // Another deploy wrote the lease between our read and our write: it won.
    const winner = await api.readLease(DEPLOY_LEASE_NAMESPACE, DEPLOY_LEASE_NAME);
    throw winner ? lockedBy(winner.record, now) : error;
  }
}

function lockedBy(record: LeaseRecord, now: number): DeployLockedError {
  const seconds = Math.ceil((leaseExpiresAt(record) - now) / MS_PER_SECOND);
  return new DeployLockedError(
    `another metal deploy is running: Lease ${DEPLOY_LEASE_NAMESPACE}/${DEPLOY_LEASE_NAME} is held ` +
      `by "${record.holderIdentity}" (renewed ${new Date(record.renewTime).toISOString()}, expires ` +
      `in ${seconds} s unless renewed). Nothing was changed. Wait for that deploy to finish; if it ` +
      `died, rerun after the lease expired (\`kubectl -n ${DEPLOY_LEASE_NAMESPACE} get lease ` +
      `${DEPLOY_LEASE_NAME}\`)`,
  );
}

/** The lease while this deploy holds it: renewed in the background, checked before each step. */
export class HeldLease {
  #stored: StoredLease;
  #lastRenewed: number;
  #lost: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> = Promise.resolve();

  constructor(
    readonly identity: string,
    stored: StoredLease,
    readonly settings: LeaseSettings,
  ) {
    this.#stored = stored;
    this.#lastRenewed = stored.record.renewTime;
  }

  /** Renews every third of the duration through whatever API connection is current. */
  startRenewing(api: () => Promise<ClusterApi>): void {
    const interval = (this.settings.durationSeconds * MS_PER_SECOND) / RENEWALS_PER_DURATION;
    this.#timer = setInterval(() => {
      this.#renewing = this.#renewing.then(() => this.renew(api)).catch(() => undefined);
    }, interval);
    this.#timer.unref();
  }

  /** One renewal; a failure is remembered, and `check` fails once the lease could have expired. */
  async renew(api: () => Promise<ClusterApi>): Promise<void> {
    if (this.#lost) return;
    const now = this.settings.now();
    try {
      this.#stored = await (
        await api()
      ).replaceLease(
        DEPLOY_LEASE_NAMESPACE,
        DEPLOY_LEASE_NAME,
        { ...this.#stored.record, renewTime: now },
        this.#stored.resourceVersion,
      );
      this.#lastRenewed = now;
    } catch (error) {
      if (error instanceof LeaseConflict) {
        const current = await (await api()).readLease(DEPLOY_LEASE_NAMESPACE, DEPLOY_LEASE_NAME);
        this.#lost = `the Lease is now held by "${current?.record.holderIdentity ?? "nobody"}"`;
      }
    }
  }

  /**
   * Throws when this deploy may no longer hold the lease: it must not touch another node. Reads
   * the Lease (one GET) so a takeover is seen before the next step, not at the next renewal.
   */
  async ensureHeld(api: ClusterApi): Promise<void> {
    const now = this.settings.now();
    if (!this.#lost) {
      const current = await api.readLease(DEPLOY_LEASE_NAMESPACE, DEPLOY_LEASE_NAME);
      if (current?.record.holderIdentity !== this.identity) {
        this.#lost = `the Lease is now held by "${current?.record.holderIdentity ?? "nobody"}"`;
      }
    }
    const expired = this.#lastRenewed + this.settings.durationSeconds * MS_PER_SECOND <= now;
    if (this.#lost || expired) {
      throw new DeployLeaseLostError(
        `this deploy lost Lease ${DEPLOY_LEASE_NAMESPACE}/${DEPLOY_LEASE_NAME} ` +
          `(${this.#lost ?? `not renewed since ${new Date(this.#lastRenewed).toISOString()}`}); ` +
          `it stopped before touching another node. Check for another metal deploy, then rerun`,
      );
    }
  }

  /** Empties the holder, as client-go's release does, so the next deploy need not wait. */
  async release(api: ClusterApi): Promise<void> {
    clearInterval(this.#timer);
    await this.#renewing;
    if (this.#lost) return;
    await api
      .replaceLease(
        DEPLOY_LEASE_NAMESPACE,
        DEPLOY_LEASE_NAME,
        { ...this.#stored.record, holderIdentity: "", renewTime: this.settings.now() },
        this.#stored.resourceVersion,
      )
      .catch(() => undefined);
  }
}
