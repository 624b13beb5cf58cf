/**
 * The few Kubernetes calls a deploy makes, behind a narrow interface so the orchestrator never
 * sees the client library. Implemented with @kubernetes/client-node: typed calls, no kubectl
 * output scraping.
 */
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  V1MicroTime,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Lease,
  type V1Node,
  type V1Pod,
} from "@kubernetes/client-node";
import { KubeApiError } from "./errors.js";

export interface NodeStatus {
  readonly name: string;
  readonly ready: boolean;
  /** The Ready condition's reason and message, for reports ("KubeletNotReady: …"). */
  readonly readiness: string;
  readonly unschedulable: boolean;
  /** Changes on every boot: how a reboot is told apart from a node that never went down. */
  readonly bootId: string;
  /** Runs an etcd member (k3s labels servers with embedded etcd so). */
  readonly etcdMember: boolean;
}

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly daemonSet: boolean;
  /** A static pod's API mirror: evicting it does nothing, the kubelet owns it. */
  readonly mirror: boolean;
  /** Has a controller owner (ReplicaSet, StatefulSet, Job…) that recreates it elsewhere. */
  readonly controlled: boolean;
  /** Mounts an emptyDir volume: its data is lost when the pod leaves the node. */
  readonly localStorage: boolean;
  /** Phase Succeeded or Failed: nothing runs, removing it loses nothing. */
  readonly finished: boolean;
}

export type EvictionOutcome =
  | { readonly kind: "evicted" }
  | { readonly kind: "gone" }
  | {
      readonly kind: "refused";
      readonly reason: string;
      readonly disruptionBudget: string | undefined;
    };

/** A coordination.k8s.io/v1 Lease's spec, as the deploy lock reads and writes it (lease.ts). */
export interface LeaseRecord {
  /** Empty when released. */
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  /** Milliseconds since the epoch; 0 when never set. */
  readonly acquireTime: number;
  readonly renewTime: number;
  readonly leaseTransitions: number;
}

/** A Lease as read: the record plus the resourceVersion a replace must name. */
export interface StoredLease {
  readonly record: LeaseRecord;
  readonly resourceVersion: string;
}

/** The Lease was changed (or created) by someone else since it was read: HTTP 409. */
export class LeaseConflict extends KubeApiError {
  override readonly code: string = "DEPLOY_LEASE_CONFLICT";
}

export interface ClusterApi {
  listNodes(): Promise<NodeStatus[]>;
  getNode(name: string): Promise<NodeStatus>;
  setUnschedulable(name: string, unschedulable: boolean): Promise<void>;
  listPodsOnNode(name: string): Promise<PodRef[]>;
  evictPod(pod: PodRef): Promise<EvictionOutcome>;
  /** undefined when the Lease does not exist. */
  readLease(namespace: string, name: string): Promise<StoredLease | undefined>;
  /** Throws LeaseConflict when it already exists. */
  createLease(namespace: string, name: string, record: LeaseRecord): Promise<StoredLease>;
  /** Throws LeaseConflict when `resourceVersion` is no longer the Lease's (optimistic lock). */
  replaceLease(
    namespace: string,
    name: string,
    record: LeaseRecord,
    resourceVersion: string,
  ): Promise<StoredLease>;
}

const HTTP_NOT_FOUND = 404;
const HTTP_CONFLICT = 409;
const HTTP_TOO_MANY_REQUESTS = 429;
const ETCD_ROLE_LABEL = "node-role.kubernetes.io/etcd";
const MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror";
/** policy/v1 `DisruptionBudgetCause`: the cause type the API puts on PDB refusals. */
const DISRUPTION_BUDGET_CAUSE = "DisruptionBudget";
const DISRUPTION_BUDGET_NAME = /disruption budget (\S+)/;

export class KubernetesClusterApi implements ClusterApi {
  readonly #core: CoreV1Api;
  readonly #coordination: CoordinationV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
    this.#coordination = kubeConfig.makeApiClient(CoordinationV1Api);
  }

  async readLease(namespace: string, name: string): Promise<StoredLease | undefined> {
    try {
      return storedLeaseOf(await this.#coordination.readNamespacedLease({ name, namespace }));
    } catch (error) {
      if (error instanceof ApiException && error.code === HTTP_NOT_FOUND) return undefined;
      throw apiError(`read Lease ${namespace}/${name}`, error);
    }
  }

  async createLease(namespace: string, name: string, record: LeaseRecord): Promise<StoredLease> {
    return this.#writeLease(`create Lease ${namespace}/${name}`, () =>
      this.#coordination.createNamespacedLease({ namespace, body: leaseOf(name, record) }),
    );
  }

  async replaceLease(
    namespace: string,
    name: string,
    record: LeaseRecord,
    resourceVersion: string,
  ): Promise<StoredLease> {
    return this.#writeLease(`replace Lease ${namespace}/${name}`, () =>
      this.#coordination.replaceNamespacedLease({
        name,
        namespace,
        body: leaseOf(name, record, resourceVersion),
      }),
    );
  }

  async #writeLease(what: string, write: () => Promise<V1Lease>): Promise<StoredLease> {
    try {
      return storedLeaseOf(await write());
    } catch (error) {
      if (error instanceof ApiException && error.code === HTTP_CONFLICT) {
        throw new LeaseConflict(`Kubernetes API: ${what}: changed by someone else (HTTP 409)`);
      }
      throw apiError(what, error);
    }
  }

  async listNodes(): Promise<NodeStatus[]> {
    const list = await call("list nodes", () => this.#core.listNode());
    return list.items.map(nodeStatusOf);
  }

  async getNode(name: string): Promise<NodeStatus> {
    return nodeStatusOf(await call(`read node ${name}`, () => this.#core.readNode({ name })));
  }

  async setUnschedulable(name: string, unschedulable: boolean): Promise<void> {
    // The same strategic-merge patch `kubectl cordon` sends.
    await call(`${unschedulable ? "cordon" : "uncordon"} ${name}`, () =>
      this.#core.patchNode(
        { name, body: { spec: { unschedulable } } },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      ),
    );
  }

  async listPodsOnNode(name: string): Promise<PodRef[]> {
    const list = await call(`list pods on ${name}`, () =>
      this.#core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` }),
    );
    return list.items.map(podRefOf);
  }

  async evictPod(pod: PodRef): Promise<EvictionOutcome> {
    try {
      await this.#core.createNamespacedPodEviction({
        name: pod.name,
        namespace: pod.namespace,
        body: {
          apiVersion: "policy/v1",
          kind: "Eviction",
          metadata: { name: pod.name, namespace: pod.namespace },
        },
      });
      return { kind: "evicted" };
    } catch (error) {
      if (error instanceof ApiException && error.code === HTTP_NOT_FOUND) return { kind: "gone" };
      if (error instanceof ApiException && error.code === HTTP_TOO_MANY_REQUESTS) {
        return refusalOf(error.body);
      }
      throw apiError(`evict pod ${pod.namespace}/${pod.name}`, error);
    }
  }
}

export function nodeStatusOf(node: V1Node): NodeStatus {
  const ready = node.status?.conditions?.find((condition) => condition.type === "Ready");
  return {
    name: node.metadata?.name ?? "",
    ready: ready?.status === "True",
    readiness: ready
      ? `Ready=${ready.status}${ready.reason ? ` ${ready.reason}` : ""}${ready.message ? `: ${ready.message}` : ""}`
      : "no Ready condition reported",
    unschedulable: node.spec?.unschedulable === true,
    bootId: node.status?.nodeInfo?.bootID ?? "",
    etcdMember: node.metadata?.labels?.[ETCD_ROLE_LABEL] === "true",
  };
}

export function podRefOf(pod: V1Pod): PodRef {
  // kubectl's metav1.GetControllerOf: the owner reference with controller=true.
  const controller = (pod.metadata?.ownerReferences ?? []).find((owner) => owner.controller);
  return {
    namespace: pod.metadata?.namespace ?? "default",
    name: pod.metadata?.name ?? "",
    uid: pod.metadata?.uid ?? "",
    daemonSet: controller?.kind === "DaemonSet",
    mirror: pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined,
    controlled: controller !== undefined,
    localStorage: (pod.spec?.volumes ?? []).some((volume) => volume.emptyDir !== undefined),
    finished: pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed",
  };
}

function leaseOf(name: string, record: LeaseRecord, resourceVersion?: string): V1Lease {
  const time = (ms: number) => (ms > 0 ? new V1MicroTime(ms) : undefined);
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, ...(resourceVersion === undefined ? {} : { resourceVersion }) },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: time(record.acquireTime),
      renewTime: time(record.renewTime),
      leaseTransitions: record.leaseTransitions,
    },
  };
}

function storedLeaseOf(lease: V1Lease): StoredLease {
  const spec = lease.spec ?? {};
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? "",
    record: {
      holderIdentity: spec.holderIdentity ?? "",
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: spec.acquireTime ? new Date(spec.acquireTime).getTime() : 0,
      renewTime: spec.renewTime ? new Date(spec.renewTime).getTime() : 0,
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
  };
}

interface StatusBody {
  readonly message?: string;
  readonly details?: {
    readonly causes?: readonly { readonly reason?: string; readonly message?: string }[];
  };
}

/** Reads a 429 Status: a PodDisruptionBudget refusal names the budget in its cause. */
export function refusalOf(body: unknown): EvictionOutcome {
  const status = parseStatus(body);
  const budgetCause = status?.details?.causes?.find(
    (cause) => cause.reason === DISRUPTION_BUDGET_CAUSE,
  );
  const reason = budgetCause?.message ?? status?.message ?? "the API asked to retry later (429)";
  return {
    kind: "refused",
    reason,
    disruptionBudget: budgetCause?.message?.match(DISRUPTION_BUDGET_NAME)?.[1],
  };
}

function parseStatus(body: unknown): StatusBody | undefined {
  if (typeof body === "object" && body !== null) return body as StatusBody;
  if (typeof body !== "string") return undefined;
  try {
    return JSON.parse(body) as StatusBody;
  } catch {
    return undefined;
  }
}

async function call<T>(what: string, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw apiError(what, error);
  }
}

function apiError(what: string, error: unknown): KubeApiError {
  if (error instanceof ApiException) {
    const status = parseStatus(error.body);
    return new KubeApiError(
      `Kubernetes API: ${what} failed with HTTP ${error.code}: ${status?.message ?? String(error.body)}`,
    );
  }
  return new KubeApiError(
    `Kubernetes API: ${what} failed: ${error instanceof Error ? error.message : String(error)} ` +
      `(is the API reachable? check --kubeconfig or the SSH access to the init server)`,
  );
}
