import { afterAll, describe, expect, it } from "vitest";
import { VirtualNetwork } from "../src/netns.js";
import { addPacketLoss } from "../src/packet-loss.js";

const PINGS = 20;

describe("addPacketLoss", () => {
  let network: VirtualNetwork | undefined;
  afterAll(() => network?.destroy());

  it("drops the bridge's frames at the given rate and stops when removed", async () => {
    network = await VirtualNetwork.create();
    const a = await network.addHost("a", 1);
    const b = await network.addHost("b", 2);
    const received = async () => {
      const ping = await a.run(
        "busybox",
        ["ping", "-c", String(PINGS), "-i", "0.1", "-W", "2", b.address],
        { reject: false },
      );
      return Number(/(\d+) packets received/.exec(String(ping.stdout))?.[1]);
    };

    const removeAll = await addPacketLoss(network, 100);
    expect(await received()).toBe(0);
    await removeAll();
    expect(await received()).toBe(PINGS);

    // 30 % of each frame: a round trip survives about half the time, so some but not all of
    // 20 (each extreme has a chance near one in a million).
    const removeHalf = await addPacketLoss(network, 30);
    const some = await received();
    await removeHalf();
    expect(some).toBeGreaterThan(0);
    expect(some).toBeLessThan(PINGS);
  });

  it("refuses a rate that is not a whole percentage", async () => {
    network ??= await VirtualNetwork.create();
    await expect(addPacketLoss(network, 5.5)).rejects.toThrow(/whole percentage/);
    await expect(addPacketLoss(network, 101)).rejects.toThrow(/whole percentage/);
    await expect(addPacketLoss(network, 0)).rejects.toThrow(/whole percentage/);
  });
});
