/**
 * Errors a deploy stops on. Each names the node, what went wrong and what to do about it; the
 * orchestrator turns them into the failure report. All derive from the package's `MetalError`
 * (src/errors.ts): a stable `code`, and `exit` saying whether anything may have changed.
 */
import { MetalError } from "../errors.js";

export class DeployError extends MetalError {
  override readonly code: string = "DEPLOY_FAILED";
}

/** Flags or hosts that cannot make a deploy; nothing was changed. */
export class DeployUsageError extends DeployError {
  override readonly code: string = "DEPLOY_USAGE";
  override readonly exit = "refused";
}

/** deploy.json cannot be read: refused before touching the cluster. */
export class DeployProgressError extends DeployError {
  override readonly code: string = "DEPLOY_PROGRESS_UNREADABLE";
  override readonly exit = "refused";
}

/** Another deploy holds the cluster's deploy Lease or the local deploy lock; nothing was changed. */
export class DeployLockedError extends DeployError {
  override readonly code: string = "DEPLOY_LOCKED";
  override readonly exit = "refused";
}

/** This deploy lost its Lease while running (renewals failed, another deploy took it over). */
export class DeployLeaseLostError extends DeployError {
  override readonly code: string = "DEPLOY_LEASE_LOST";
}

/** The cluster is not healthy enough to take a node out. */
export class ClusterUnhealthyError extends DeployError {
  override readonly code: string = "DEPLOY_CLUSTER_UNHEALTHY";
}

export interface BlockedPod {
  readonly namespace: string;
  readonly name: string;
  /** Why it is still there: the PodDisruptionBudget that refused it, or "still terminating". */
  readonly reason: string;
  /** The budget that refused the eviction, when the API named one. */
  readonly disruptionBudget: string | undefined;
}

export class DrainTimeoutError extends DeployError {
  override readonly code: string = "DEPLOY_DRAIN_TIMEOUT";
  constructor(
    readonly node: string,
    readonly timeoutMs: number,
    readonly blocked: readonly BlockedPod[],
  ) {
    super(
      `draining ${node} did not finish within ${timeoutMs / 1000} s; pods left: ` +
        blocked
          .map((pod) => {
            const budget = pod.disruptionBudget
              ? ` (PodDisruptionBudget ${pod.disruptionBudget})`
              : "";
            return `${pod.namespace}/${pod.name}${budget}: ${pod.reason}`;
          })
          .join("; ") +
        `. Fix: scale the workload up or relax the budget (kubectl get pdb -A), then rerun metal deploy`,
    );
  }
}

/** The node runs pods `kubectl drain --ignore-daemonsets` refuses to evict; none was evicted. */
export class DrainRefusedError extends DeployError {
  override readonly code: string = "DEPLOY_DRAIN_REFUSED";
  constructor(
    readonly node: string,
    readonly refused: readonly { readonly pod: string; readonly reason: string }[],
  ) {
    const byReason = new Map<string, string[]>();
    for (const { pod, reason } of refused)
      byReason.set(reason, [...(byReason.get(reason) ?? []), pod]);
    super(
      `refusing to drain ${node}, no pod was evicted: ` +
        [...byReason].map(([reason, pods]) => `${reason}: ${pods.join(", ")}`).join("; ") +
        `. Their data or the pods themselves would be lost: move them off ${node} yourself, or rerun ` +
        `metal deploy with the flag named (same meaning as for kubectl drain)`,
    );
  }
}

export class NodeNotReadyError extends DeployError {
  override readonly code: string = "DEPLOY_NODE_NOT_READY";
  constructor(
    readonly node: string,
    readonly timeoutMs: number,
    readonly lastSeen: string,
  ) {
    super(
      `${node} did not come back Ready within ${timeoutMs / 1000} s (last seen: ${lastSeen}). ` +
        `Check the console or \`journalctl -u k3s\` on it; roll back if the new system is at fault`,
    );
  }
}

export class CommandFailedError extends DeployError {
  override readonly code: string = "DEPLOY_COMMAND_FAILED";
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | undefined,
    readonly logFile: string,
    lastOutput: string,
  ) {
    super(
      `\`${argv.join(" ")}\` failed (${exitCode === undefined ? "killed" : `exit code ${exitCode}`})` +
        `${lastOutput ? `: ${lastOutput}` : ""}; its whole output is in ${logFile}`,
    );
  }
}

/** The Kubernetes API answered something a deploy cannot go on with. */
export class KubeApiError extends DeployError {
  override readonly code: string = "DEPLOY_KUBE_API";
}

/** The SSH tunnel to the API, or reading the kubeconfig on the server, failed. */
export class KubeAccessError extends DeployError {
  override readonly code: string = "DEPLOY_KUBE_ACCESS";
}

/** `--kubeconfig FILE` cannot be used: refused before touching the cluster. */
export class KubeconfigError extends KubeAccessError {
  override readonly code: string = "DEPLOY_KUBECONFIG";
  override readonly exit = "refused";
}
