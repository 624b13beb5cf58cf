/**
 * The few Kubernetes calls a deploy makes, behind a narrow interface so the orchestrator never
 * sees the client library. Implemented with @kubernetes/client-node: typed calls, no kubectl
 * output scraping.
 */
import {
  ApiException,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
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
}

export type EvictionOutcome =
  | { readonly kind: "evicted" }
  | { readonly kind: "gone" }
  | {
      readonly kind: "refused";
      readonly reason: string;
      readonly disruptionBudget: string | undefined;
    };

export interface ClusterApi {
  listNodes(): Promise<NodeStatus[]>;
  getNode(name: string): Promise<NodeStatus>;
  setUnschedulable(name: string, unschedulable: boolean): Promise<void>;
  listPodsOnNode(name: string): Promise<PodRef[]>;
  evictPod(pod: PodRef): Promise<EvictionOutcome>;
}

const HTTP_NOT_FOUND = 404;
const HTTP_TOO_MANY_REQUESTS = 429;
const ETCD_ROLE_LABEL = "node-role.kubernetes.io/etcd";
const MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror";
/** policy/v1 `DisruptionBudgetCause`: the cause type the API puts on PDB refusals. */
const DISRUPTION_BUDGET_CAUSE = "DisruptionBudget";
const DISRUPTION_BUDGET_NAME = /disruption budget (\S+)/;

export class KubernetesClusterApi implements ClusterApi {
  readonly #core: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
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
  return {
    namespace: pod.metadata?.namespace ?? "default",
    name: pod.metadata?.name ?? "",
    uid: pod.metadata?.uid ?? "",
    daemonSet: (pod.metadata?.ownerReferences ?? []).some(
      (owner) => owner.controller === true && owner.kind === "DaemonSet",
    ),
    mirror: pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined,
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
