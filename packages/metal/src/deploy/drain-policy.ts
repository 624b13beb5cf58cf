/**
 * Which pods a drain evicts, leaves, or refuses to touch: the rules of `kubectl drain
 * --ignore-daemonsets` (kubernetes/kubectl pkg/drain/filters.go, `makeFilters`: daemonSetFilter,
 * mirrorPodFilter, localStorageFilter, unreplicatedFilter, in that order). Pure: pods and flags
 * in, a verdict out. As in kubectl, one refused pod refuses the whole drain before any eviction.
 *
 * Deviation: kubectl looks the owning DaemonSet up and, with `--force`, deletes a pod whose
 * DaemonSet is gone; metal always leaves DaemonSet pods.
 */
import type { PodRef } from "./cluster-api.js";

/** The kubectl drain flags metal honours, under the same names. */
export interface DrainFlags {
  /** `--force`: also evict pods no controller would recreate (they are gone for good). */
  readonly force: boolean;
  /** `--delete-emptydir-data`: also evict pods whose emptyDir data is lost with them. */
  readonly deleteEmptydirData: boolean;
}

export const KUBECTL_DRAIN_DEFAULTS: DrainFlags = { force: false, deleteEmptydirData: false };

export interface RefusedPod {
  readonly pod: PodRef;
  /** kubectl's wording, with the flag that would allow it. */
  readonly reason: string;
}

export interface DrainVerdict {
  readonly evict: readonly PodRef[];
  /** DaemonSet pods (their controller ignores cordons) and mirror pods (the kubelet owns them). */
  readonly leave: readonly PodRef[];
  readonly refused: readonly RefusedPod[];
}

const LOCAL_STORAGE_REFUSAL = "Pods with local storage (use --delete-emptydir-data to override)";
const UNMANAGED_REFUSAL = "Pods that declare no controller (use --force to override)";

export function judgePods(pods: readonly PodRef[], flags: DrainFlags): DrainVerdict {
  const evict: PodRef[] = [];
  const leave: PodRef[] = [];
  const refused: RefusedPod[] = [];
  for (const pod of pods) {
    // A finished pod passes every filter: nothing runs, nothing is lost.
    if (pod.daemonSet && !pod.finished) leave.push(pod);
    else if (pod.mirror) leave.push(pod);
    else if (pod.finished) evict.push(pod);
    else if (pod.localStorage && !flags.deleteEmptydirData) {
      refused.push({ pod, reason: LOCAL_STORAGE_REFUSAL });
    } else if (!pod.controlled && !flags.force) {
      refused.push({ pod, reason: UNMANAGED_REFUSAL });
    } else evict.push(pod);
  }
  return { evict, leave, refused };
}
