/**
 * Whether the cluster can lose the nodes of a batch for a while. Pure: node statuses in,
 * problems (stop) and warnings (go on) out.
 */
import type { Host } from "../inventory/types.js";
import type { NodeStatus } from "./cluster-api.js";

export interface HealthVerdict {
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
}

/** Below this many etcd members, taking one down always loses the majority. */
const SMALLEST_FAULT_TOLERANT_ETCD = 3;

/**
 * `resuming` are nodes a previous run left mid-deploy: they may be cordoned or NotReady, that
 * is what this run is about to fix.
 */
export function checkHealth(
  nodes: readonly NodeStatus[],
  batch: readonly Host[],
  resuming: ReadonlySet<string>,
): HealthVerdict {
  const problems: string[] = [];
  const warnings: string[] = [];
  const byName = new Map(nodes.map((node) => [node.name, node]));
  for (const host of batch) {
    if (!byName.has(host.name)) {
      problems.push(
        `${host.name} is not a node of the cluster (kubectl get nodes does not list it); ` +
          `is it installed and joined?`,
      );
    }
  }
  for (const node of nodes) {
    if (!node.ready && !resuming.has(node.name)) {
      problems.push(`${node.name} is not Ready (${node.readiness})`);
    }
  }
  const leaving = new Set(batch.map((host) => host.name));
  if (batch.some((host) => host.role === "server")) {
    const members = nodes.filter((node) => node.etcdMember);
    const majority = Math.floor(members.length / 2) + 1;
    const staying = members.filter((node) => node.ready && !leaving.has(node.name)).length;
    if (members.length < SMALLEST_FAULT_TOLERANT_ETCD) {
      warnings.push(
        `etcd has ${members.length} member${members.length === 1 ? "" : "s"}: the Kubernetes API ` +
          `pauses while ${[...leaving].join(", ")} restarts (3 servers tolerate one down)`,
      );
    } else if (staying < majority) {
      problems.push(
        `etcd quorum: ${staying} of ${members.length} members would stay Ready while ` +
          `${[...leaving].join(", ")} is down, ${majority} are needed`,
      );
    }
  }
  return { problems, warnings };
}
