import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startWakeLoop, type SelfHealing, type WakeLoopOptions } from "../../src/install/wake.js";
import type { Host } from "../../src/inventory/types.js";
import type { PowerDriver, PowerOperation } from "../../src/power/driver.js";
import { fixture, walkTo, type Fixture } from "../helpers.js";

const INTERVAL_MS = 20;
const until = async (condition: () => boolean) => {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in 5 s");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

/** A driver that records what it was asked; with `failFirst`, its first call throws that instead. */
function recordingDriver(
  supports: readonly PowerOperation[],
  calls: string[],
  host: Host,
  failFirst?: Error,
): PowerDriver {
  let failNext = failFirst;
  const record = (operation: string) => async () => {
    if (failNext) {
      const error = failNext;
      failNext = undefined;
      throw error;
    }
    calls.push(`${host.name} ${operation}`);
  };
  return {
    name: "fake",
    supports: new Set(supports),
    powerOnStep: "fake power on",
    on: record("on"),
    off: record("off"),
    cycle: record("cycle"),
    status: async () => "on",
    bootFromNetworkOnce: record("boot-from-network"),
  };
}

type LoopChoices = Partial<Pick<WakeLoopOptions, "hosts" | "now" | "selfHealing" | "onError">> & {
  readonly failFirst?: Error;
};

/**
 * Runs the wake loop over `hosts` (node1 alone unless given), each on a recording driver that
 * supports `supports`, while `body` runs; `calls` is what the drivers were asked, in order.
 */
async function whileWaking(
  supports: readonly PowerOperation[],
  { hosts = [f.inventory.hosts[0]!], failFirst, ...choices }: LoopChoices,
  body: (calls: readonly string[]) => Promise<void>,
): Promise<void> {
  const calls: string[] = [];
  const drivers = new Map(
    hosts.map((host) => [host.name, recordingDriver(supports, calls, host, failFirst)]),
  );
  const loop = startWakeLoop({
    store: f.store,
    hosts,
    intervalMs: INTERVAL_MS,
    driverOf: (host) => drivers.get(host.name)!,
    ...choices,
  });
  try {
    await body(calls);
  } finally {
    loop.stop();
  }
}

const count = (calls: readonly string[], call: string) =>
  calls.filter((entry) => entry === call).length;

let f: Fixture;
beforeEach(async () => {
  f = await fixture();
});
afterEach(() => f.cleanup());

describe("power loop: a driver that can only power on (Wake-on-LAN)", () => {
  it("powers on pending hosts, marks them waking, and stops once their DHCP packet moved them to pxe", async () => {
    await walkTo(f.store, "node3", "ready");
    await whileWaking(["on"], { hosts: f.inventory.hosts }, async (calls) => {
      await until(() => count(calls, "node1 on") >= 3);
      expect(f.store.host("node1")).toMatchObject({ phase: "waking", lastStep: "fake power on" });
      expect(f.store.host("node2")?.phase).toBe("waking");
      expect(calls).not.toContain("node3 on");

      await f.store.change("node1", { expect: "waking", to: "pxe", step: "test: DHCP seen" });
      const node1Ons = count(calls, "node1 on");
      const node2Ons = count(calls, "node2 on");
      await until(() => count(calls, "node2 on") >= node2Ons + 3);
      // At most one round was already under way when node1 moved on.
      expect(count(calls, "node1 on")).toBeLessThanOrEqual(node1Ons + 1);
    });
  });

  it("keeps going when a power-on fails and reports the failure", async () => {
    const errors: string[] = [];
    await whileWaking(
      ["on"],
      {
        failFirst: new Error("ENETUNREACH"),
        onError: (name, error) => errors.push(`${name}: ${(error as Error).message}`),
      },
      async (calls) => {
        await until(() => calls.length >= 2);
        expect(errors).toEqual(["node1: ENETUNREACH"]);
        expect(f.store.host("node1")?.phase).toBe("waking");
      },
    );
  });

  it("never fails or cycles a host whose driver cannot cycle, however long it stays silent", async () => {
    let clock = 0;
    await whileWaking(
      ["on"],
      {
        now: () => (clock += 60_000),
        selfHealing: { dhcpTimeoutMs: 1, callbackTimeoutMs: 1, maxPowerCycles: 1 },
      },
      async (calls) => {
        await until(() => calls.length >= 4);
        expect(calls.every((call) => call === "node1 on")).toBe(true);
        expect(f.store.host("node1")?.phase).toBe("waking");
      },
    );
  });
});

describe("power loop: self-healing with a driver that can cycle (a BMC)", () => {
  const healing: SelfHealing = {
    dhcpTimeoutMs: 60_000,
    callbackTimeoutMs: 120_000,
    maxPowerCycles: 2,
  };
  const BMC: readonly PowerOperation[] = ["on", "off", "cycle", "status"];

  it("powers on once, cycles a host that sends no DHCP packet in time (each cycle in its timeline), then fails it with the reason", async () => {
    let clock = 0;
    // Every look at the clock is 30 s later: a timeout passes every second round.
    await whileWaking(
      BMC,
      { now: () => (clock += 30_000), selfHealing: healing },
      async (calls) => {
        await until(() => f.store.host("node1")?.phase === "failed");
        expect(calls).toEqual(["node1 on", "node1 cycle", "node1 cycle"]);
        const record = f.store.host("node1")!;
        expect(record.failure).toEqual({
          phase: "waking",
          reason: expect.stringMatching(
            /^no DHCP packet within 60 s of power-on, after 2 power cycles; check its console/,
          ),
        });
        const steps = (await f.store.history())
          .filter((event) => event.type === "host.step" || event.type === "host.phase")
          .map((event) => ("step" in event ? event.step : ""));
        expect(steps).toEqual([
          "fake power on",
          "power cycle 1 of 2: no DHCP packet within 60 s of power-on",
          "power cycle 2 of 2: no DHCP packet within 60 s of power-on",
          "gave up: stuck after power cycles",
        ]);
      },
    );
  });

  it("cycles a host whose installer never calls back after its PXE boot, and leaves it alone once it does", async () => {
    await walkTo(f.store, "node1", "pxe");
    let clock = f.now;
    await whileWaking(BMC, { now: () => clock, selfHealing: healing }, async (calls) => {
      await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS * 3));
      expect(calls).toEqual([]);
      clock += healing.callbackTimeoutMs;
      await until(() => f.store.host("node1")?.lastStep.startsWith("power cycle") === true);
      expect(calls).toEqual(["node1 cycle"]);
      expect(f.store.host("node1")).toMatchObject({
        phase: "pxe",
        lastStep:
          "power cycle 1 of 2: the installer did not call back within 120 s of its PXE boot",
      });
      await f.store.change("node1", { expect: "pxe", to: "installer", step: "test: callback" });
      clock += healing.callbackTimeoutMs * 10;
      await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS * 3));
      expect(calls).toEqual(["node1 cycle"]);
      expect(f.store.host("node1")?.phase).toBe("installer");
    });
  });

  it("fails at the first timeout with no cycles allowed", async () => {
    let clock = 0;
    await whileWaking(
      ["on", "cycle"],
      { now: () => (clock += 60_000), selfHealing: { ...healing, maxPowerCycles: 0 } },
      async (calls) => {
        await until(() => f.store.host("node1")?.phase === "failed");
        expect(calls).toEqual(["node1 on"]);
        expect(f.store.host("node1")?.failure?.reason).toMatch(/after 0 power cycles/);
      },
    );
  });
});
