/**
 * Errors a deploy stops on. Each names the node, what went wrong and what to do about it; the
 * orchestrator turns them into the failure report.
 */
export class DeployError extends Error {
  override name = "DeployError";
}

/** Flags or hosts that cannot make a deploy; nothing was changed. */
export class DeployUsageError extends DeployError {
  override name = "DeployUsageError";
}

/** The cluster is not healthy enough to take a node out. */
export class ClusterUnhealthyError extends DeployError {
  override name = "ClusterUnhealthyError";
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
  override name = "DrainTimeoutError";
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

export class NodeNotReadyError extends DeployError {
  override name = "NodeNotReadyError";
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
  override name = "CommandFailedError";
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
  override name = "KubeApiError";
}

/** The SSH tunnel to the API, or reading the kubeconfig on the server, failed. */
export class KubeAccessError extends DeployError {
  override name = "KubeAccessError";
}
