import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startWakeLoop } from "../../src/install/wake.js";
import { fixture, walkTo, type Fixture } from "../helpers.js";

const INTERVAL_MS = 20;
const until = async (condition: () => boolean) => {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in 5 s");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

let f: Fixture;
beforeEach(async () => {
  f = await fixture();
});
afterEach(() => f.cleanup());

describe("Wake-on-LAN loop", () => {
  it("wakes pending hosts, marks them waking, and stops re-sending once their DHCP packet moved them to pxe", async () => {
    const sent: string[] = [];
    await walkTo(f.store, "node3", "ready");
    const loop = startWakeLoop({
      store: f.store,
      hosts: f.inventory.hosts,
      intervalMs: INTERVAL_MS,
      send: async (mac) => {
        sent.push(mac);
      },
    });
    try {
      await until(() => sent.filter((mac) => mac === "52:54:00:77:00:01").length >= 3);
      expect(f.store.host("node1")?.phase).toBe("waking");
      expect(f.store.host("node2")?.phase).toBe("waking");
      expect(sent).not.toContain("52:54:00:77:00:03");

      await f.store.change("node1", { expect: "waking", to: "pxe", step: "test: DHCP seen" });
      const node1Sends = sent.filter((mac) => mac === "52:54:00:77:00:01").length;
      const node2Sends = sent.filter((mac) => mac === "52:54:00:77:00:02").length;
      await until(() => sent.filter((mac) => mac === "52:54:00:77:00:02").length >= node2Sends + 3);
      // At most one round was already under way when node1 moved on.
      expect(sent.filter((mac) => mac === "52:54:00:77:00:01").length).toBeLessThanOrEqual(
        node1Sends + 1,
      );
    } finally {
      loop.stop();
    }
  });

  it("keeps going when a send fails and reports the failure", async () => {
    const errors: string[] = [];
    let calls = 0;
    const loop = startWakeLoop({
      store: f.store,
      hosts: f.inventory.hosts.slice(0, 1),
      intervalMs: INTERVAL_MS,
      send: async () => {
        calls++;
        if (calls === 1) throw new Error("ENETUNREACH");
      },
      onError: (host, error) => errors.push(`${host}: ${(error as Error).message}`),
    });
    try {
      await until(() => calls >= 3);
      expect(errors).toEqual(["node1: ENETUNREACH"]);
      expect(f.store.host("node1")?.phase).toBe("waking");
    } finally {
      loop.stop();
    }
  });
});
