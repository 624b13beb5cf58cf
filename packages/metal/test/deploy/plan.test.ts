import { describe, expect, it } from "vitest";
import { planDeploy } from "../../src/deploy/plan.js";
import { CLUSTER, host, inventory } from "./harness.js";

const names = (batches: readonly (readonly { name: string }[])[]) =>
  batches.map((batch) => batch.map((h) => h.name));

describe("planDeploy", () => {
  it("puts servers first, one a batch, the init server last among them, then agents in batches", () => {
    const plan = planDeploy(CLUSTER, { only: [], parallel: 2, completed: new Set() });
    expect(names(plan.batches)).toEqual([["s2"], ["s3"], ["s1"], ["a1", "a2"], ["a3"]]);
  });

  it("keeps inventory order whatever order the hosts are named in", () => {
    const plan = planDeploy(CLUSTER, {
      only: ["a3", "s1", "a1"],
      parallel: 5,
      completed: new Set(),
    });
    expect(names(plan.batches)).toEqual([["s1"], ["a1", "a3"]]);
  });

  it("skips hosts a resumed deploy already finished and says so", () => {
    const plan = planDeploy(CLUSTER, { only: [], parallel: 3, completed: new Set(["s2", "a1"]) });
    expect(names(plan.batches)).toEqual([["s3"], ["s1"], ["a2", "a3"]]);
    expect(plan.skipped).toEqual(["s2", "a1"]);
  });

  it("plans agents only when the inventory has no server among the chosen hosts", () => {
    const agents = inventory([host("a1", "agent", 1), host("a2", "agent", 2)]);
    expect(
      names(planDeploy(agents, { only: [], parallel: 1, completed: new Set() }).batches),
    ).toEqual([["a1"], ["a2"]]);
  });

  it("names unknown hosts and the known ones", () => {
    expect(() =>
      planDeploy(CLUSTER, { only: ["s9", "a1"], parallel: 1, completed: new Set() }),
    ).toThrow("unknown host s9: the inventory has s1, s2, s3, a1, a2, a3");
  });

  it("refuses a parallelism below one", () => {
    expect(() => planDeploy(CLUSTER, { only: [], parallel: 0, completed: new Set() })).toThrow(
      /--parallel/,
    );
  });
});
