import { describe, expect, it } from "vitest";
import type { NodeStatus } from "../../src/deploy/cluster-api.js";
import { checkHealth } from "../../src/deploy/health.js";
import { host } from "./harness.js";

function node(name: string, ready: boolean, etcdMember: boolean): NodeStatus {
  return {
    name,
    ready,
    readiness: ready ? "Ready=True KubeletReady" : "Ready=Unknown NodeStatusUnknown",
    unschedulable: false,
    bootId: "b",
    etcdMember,
  };
}

const servers = (count: number, notReady: string[] = []) =>
  Array.from({ length: count }, (_, index) =>
    node(`s${index + 1}`, !notReady.includes(`s${index + 1}`), true),
  );

describe("checkHealth", () => {
  it("passes when every node is Ready and etcd keeps its majority", () => {
    expect(
      checkHealth([...servers(3), node("a1", true, false)], [host("s1", "server", 1)], new Set()),
    ).toEqual({
      problems: [],
      warnings: [],
    });
  });

  it("names every node that is not Ready", () => {
    const verdict = checkHealth(
      [...servers(3), node("a1", false, false)],
      [host("a2", "agent", 2)],
      new Set(),
    );
    expect(verdict.problems).toContain("a1 is not Ready (Ready=Unknown NodeStatusUnknown)");
    expect(
      verdict.problems.some((problem) => problem.startsWith("a2 is not a node of the cluster")),
    ).toBe(true);
  });

  it("refuses to take a server down when the rest would lose the etcd majority", () => {
    const verdict = checkHealth(
      servers(5, ["s4", "s5"]),
      [host("s1", "server", 1)],
      new Set(["s4", "s5"]),
    );
    expect(verdict.problems).toEqual([
      "etcd quorum: 2 of 5 members would stay Ready while s1 is down, 3 are needed",
    ]);
  });

  it("only warns for one or two servers, where any server restart pauses the API", () => {
    const verdict = checkHealth(servers(1), [host("s1", "server", 1)], new Set());
    expect(verdict.problems).toEqual([]);
    expect(verdict.warnings[0]).toMatch(
      /etcd has 1 member: the Kubernetes API pauses while s1 restarts/,
    );
  });

  it("does not count nodes a previous run left mid-deploy as unhealthy", () => {
    const verdict = checkHealth(
      [...servers(3), node("a1", false, false)],
      [host("a1", "agent", 4)],
      new Set(["a1"]),
    );
    expect(verdict.problems).toEqual([]);
  });
});
