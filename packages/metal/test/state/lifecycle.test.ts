import { describe, expect, it } from "vitest";
import {
  ALLOWED_TRANSITIONS,
  INSTALLER_PHASES,
  isAllowedTransition,
  move,
  MOVES,
  REINSTALLABLE,
} from "../../src/state/lifecycle.js";
import { PHASES } from "../../src/state/types.js";

describe("transition table", () => {
  it("lets a host back into an installer phase only as a reinstall to pending", () => {
    const back: string[] = [];
    for (const from of PHASES.filter((phase) => !INSTALLER_PHASES.includes(phase))) {
      for (const to of INSTALLER_PHASES)
        if (isAllowedTransition(from, to)) back.push(`${from}→${to}`);
    }
    expect(back).toEqual(REINSTALLABLE.map((from) => `${from}→pending`));
  });

  it("lets every phase but ready fail, and a failed host only restart or wait for its first boot again", () => {
    const canFail = PHASES.filter((phase) => isAllowedTransition(phase, "failed"));
    expect(canFail).toEqual(["pending", "waking", "pxe", "installer", "installing", "installed"]);
    expect(ALLOWED_TRANSITIONS.failed).toEqual(["pending", "installed"]);
  });

  it("follows the install flow forward one phase at a time", () => {
    const flow = [
      "pending",
      "waking",
      "pxe",
      "installer",
      "installing",
      "installed",
      "ready",
    ] as const;
    for (let i = 0; i + 1 < flow.length; i++)
      expect(isAllowedTransition(flow[i]!, flow[i + 1]!)).toBe(true);
    expect(isAllowedTransition("pxe", "installing")).toBe(false);
    expect(isAllowedTransition("installer", "ready")).toBe(false);
  });
});

describe("named moves", () => {
  it("are checked by the store against the host as it is: a host failed after its install is not retried", async () => {
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { FileStateStore } = await import("../../src/state/file-store.js");
    const { IllegalTransitionError } = await import("../../src/state/errors.js");
    const directory = await mkdtemp(join(tmpdir(), "metal-lifecycle-"));
    const store = await FileStateStore.open(directory);
    try {
      await store.register(["node1", "node2"]);
      for (const to of ["pxe", "installer", "installing", "installed"] as const)
        await store.change("node1", { expect: store.host("node1")!.phase, to, step: to });
      await store.change("node1", move("fail", "no first boot", { from: "installed" }));
      await expect(store.change("node1", move("retryFailed", "retry"))).rejects.toThrow(
        IllegalTransitionError,
      );
      await store.change("node1", move("awaitFirstBootAgain", "wait again"));
      expect(store.host("node1")?.phase).toBe("installed");

      await store.change("node2", move("fail", "no DHCP", { from: "pending" }));
      await expect(store.change("node2", move("awaitFirstBootAgain", "wait"))).rejects.toThrow(
        IllegalTransitionError,
      );
      await store.change("node2", move("retryFailed", "retry"));
      expect(store.host("node2")).toMatchObject({ phase: "pending", attempt: 2 });
    } finally {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

  it("refuses a caller's narrower start phase that the move does not allow", () => {
    expect(() => move("fail", "x", { from: "ready" })).toThrow(/cannot start from ready/);
    expect(move("fail", "x", { from: "installing" }).expect).toEqual(["installing"]);
  });

  it("name who may make each move", () => {
    expect(MOVES.reinstall.by).toEqual(["operator"]);
    expect(MOVES.firstDhcp.by).toEqual(["boot policy"]);
  });
});
