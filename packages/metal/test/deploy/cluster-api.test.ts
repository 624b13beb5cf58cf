import { describe, expect, it } from "vitest";
import { nodeStatusOf, podRefOf, refusalOf } from "../../src/deploy/cluster-api.js";

describe("reading Kubernetes objects", () => {
  it("reads a PodDisruptionBudget refusal (429 Status) and names the budget", () => {
    const body = JSON.stringify({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Cannot evict pod as it would violate the pod's disruption budget.",
      reason: "TooManyRequests",
      details: {
        causes: [
          {
            reason: "DisruptionBudget",
            message: "The disruption budget web-pdb needs 2 healthy pods and has 2 currently",
          },
        ],
      },
      code: 429,
    });
    expect(refusalOf(body)).toEqual({
      kind: "refused",
      reason: "The disruption budget web-pdb needs 2 healthy pods and has 2 currently",
      disruptionBudget: "web-pdb",
    });
  });

  it("reads a 429 without a budget cause (API throttling) as a refusal to retry", () => {
    expect(
      refusalOf(
        '{"kind":"Status","message":"Too many requests, please try again later.","code":429}',
      ),
    ).toEqual({
      kind: "refused",
      reason: "Too many requests, please try again later.",
      disruptionBudget: undefined,
    });
  });

  it("reads readiness, cordon, boot id and etcd membership of a node", () => {
    const status = nodeStatusOf({
      metadata: { name: "s1", labels: { "node-role.kubernetes.io/etcd": "true" } },
      spec: { unschedulable: true },
      status: {
        conditions: [
          {
            type: "Ready",
            status: "False",
            reason: "KubeletNotReady",
            message: "PLEG is not healthy",
          },
        ],
        nodeInfo: { bootID: "boot-1" } as never,
      },
    });
    expect(status).toEqual({
      name: "s1",
      ready: false,
      readiness: "Ready=False KubeletNotReady: PLEG is not healthy",
      unschedulable: true,
      bootId: "boot-1",
      etcdMember: true,
    });
  });

  it("tells DaemonSet and mirror pods apart from pods a drain evicts", () => {
    const daemon = podRefOf({
      metadata: {
        name: "flannel",
        namespace: "kube-system",
        uid: "1",
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "DaemonSet", name: "flannel", uid: "d", controller: true },
        ],
      },
    });
    const mirror = podRefOf({
      metadata: {
        name: "etcd-s1",
        namespace: "kube-system",
        uid: "2",
        annotations: { "kubernetes.io/config.mirror": "abc" },
      },
    });
    const web = podRefOf({ metadata: { name: "web", namespace: "default", uid: "3" } });
    expect([daemon.daemonSet, daemon.mirror]).toEqual([true, false]);
    expect([mirror.daemonSet, mirror.mirror]).toEqual([false, true]);
    expect([web.daemonSet, web.mirror]).toEqual([false, false]);
  });
});
