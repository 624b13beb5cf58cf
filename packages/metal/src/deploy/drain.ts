/**
 * Drain through the Eviction API, the way `kubectl drain --ignore-daemonsets` does: pods it would
 * refuse (emptyDir data, no controller) stop the drain before any eviction unless the matching
 * kubectl flag is given (drain-policy.ts); DaemonSet and mirror pods stay; every other pod is
 * evicted, refusals (429, a PodDisruptionBudget holding) are retried until the deadline, and the
 * drain ends only when the evicted pods are gone from the node.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ClusterApi, PodRef } from "./cluster-api.js";
import { judgePods, type DrainFlags } from "./drain-policy.js";
import { DrainRefusedError, DrainTimeoutError, type BlockedPod } from "./errors.js";

export interface DrainTiming {
  readonly timeoutMs: number;
  /** Pause between rounds of evictions and checks; the API's own retry hint for 429s is 0–10 s. */
  readonly pollMs: number;
}

export interface DrainResult {
  readonly evicted: readonly string[];
  /** DaemonSet and mirror pods, left where they are. */
  readonly skipped: readonly string[];
}

interface Pending {
  readonly pod: PodRef;
  accepted: boolean;
  refusal: { reason: string; disruptionBudget: string | undefined } | undefined;
}

export async function drainNode(
  api: ClusterApi,
  node: string,
  timing: DrainTiming,
  flags: DrainFlags,
): Promise<DrainResult> {
  const deadline = Date.now() + timing.timeoutMs;
  const verdict = judgePods(await api.listPodsOnNode(node), flags);
  if (verdict.refused.length > 0) {
    throw new DrainRefusedError(
      node,
      verdict.refused.map(({ pod, reason }) => ({ pod: qualifiedName(pod), reason })),
    );
  }
  const skipped = verdict.leave;
  const pending = new Map<string, Pending>(
    verdict.evict.map((pod) => [pod.uid, { pod, accepted: false, refusal: undefined }]),
  );
  const evicted = [...pending.values()].map(({ pod }) => qualifiedName(pod));

  for (;;) {
    for (const entry of pending.values()) {
      if (entry.accepted) continue;
      const outcome = await api.evictPod(entry.pod);
      if (outcome.kind === "refused") {
        entry.refusal = { reason: outcome.reason, disruptionBudget: outcome.disruptionBudget };
      } else {
        entry.accepted = true;
        entry.refusal = undefined;
      }
    }
    const stillThere = new Set((await api.listPodsOnNode(node)).map((pod) => pod.uid));
    for (const uid of pending.keys()) if (!stillThere.has(uid)) pending.delete(uid);
    if (pending.size === 0) return { evicted, skipped: skipped.map(qualifiedName) };
    if (Date.now() >= deadline) {
      throw new DrainTimeoutError(node, timing.timeoutMs, [...pending.values()].map(blockedPodOf));
    }
    await sleep(Math.min(timing.pollMs, Math.max(0, deadline - Date.now())));
  }
}

function blockedPodOf(entry: Pending): BlockedPod {
  return {
    namespace: entry.pod.namespace,
    name: entry.pod.name,
    reason: entry.refusal?.reason ?? "evicted, still terminating",
    disruptionBudget: entry.refusal?.disruptionBudget,
  };
}

function qualifiedName(pod: PodRef): string {
  return `${pod.namespace}/${pod.name}`;
}
