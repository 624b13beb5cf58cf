import { describe, expect, it } from "vitest";
import type { PodRef } from "../../src/deploy/cluster-api.js";
import { judgePods, KUBECTL_DRAIN_DEFAULTS } from "../../src/deploy/drain-policy.js";

function pod(name: string, overrides: Partial<PodRef> = {}): PodRef {
  return {
    namespace: "default",
    name,
    uid: name,
    daemonSet: false,
    mirror: false,
    controlled: true,
    localStorage: false,
    finished: false,
    ...overrides,
  };
}

const names = (pods: readonly PodRef[]) => pods.map((entry) => entry.name);

describe("which pods a drain evicts, leaves or refuses (kubectl drain --ignore-daemonsets)", () => {
  const pods = [
    pod("web"),
    pod("agent", { daemonSet: true }),
    pod("static", { mirror: true, controlled: false }),
    pod("cache", { localStorage: true }),
    pod("debug", { controlled: false }),
    pod("scratch-debug", { controlled: false, localStorage: true }),
    pod("job-done", { controlled: false, localStorage: true, finished: true }),
    pod("agent-done", { daemonSet: true, finished: true }),
  ];

  it("refuses emptyDir and controller-less pods by default, naming the kubectl flag", () => {
    const verdict = judgePods(pods, KUBECTL_DRAIN_DEFAULTS);
    expect(names(verdict.evict)).toEqual(["web", "job-done", "agent-done"]);
    expect(names(verdict.leave)).toEqual(["agent", "static"]);
    expect(verdict.refused.map(({ pod: refused, reason }) => [refused.name, reason])).toEqual([
      ["cache", "Pods with local storage (use --delete-emptydir-data to override)"],
      ["debug", "Pods that declare no controller (use --force to override)"],
      // kubectl's local storage filter comes before the unreplicated one.
      ["scratch-debug", "Pods with local storage (use --delete-emptydir-data to override)"],
    ]);
  });

  it("--delete-emptydir-data allows emptyDir pods, --force controller-less ones; DaemonSet and mirror pods always stay", () => {
    const emptyDirOnly = judgePods(pods, { force: false, deleteEmptydirData: true });
    expect(emptyDirOnly.refused.map(({ pod: refused }) => refused.name)).toEqual([
      "debug",
      "scratch-debug",
    ]);
    const both = judgePods(pods, { force: true, deleteEmptydirData: true });
    expect(both.refused).toEqual([]);
    expect(names(both.leave)).toEqual(["agent", "static"]);
    expect(names(both.evict)).toEqual([
      "web",
      "cache",
      "debug",
      "scratch-debug",
      "job-done",
      "agent-done",
    ]);
  });
});
