import { describe, expect, it } from "vitest";
import {
  ALLOWED_TRANSITIONS,
  INSTALLER_PHASES,
  isAllowedTransition,
  REINSTALLABLE,
} from "../../src/state/transitions.js";
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
