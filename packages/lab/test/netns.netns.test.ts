import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { VirtualNetwork } from "../src/netns.js";

describe("VirtualNetwork", () => {
  let network: VirtualNetwork | undefined;
  afterAll(() => network?.destroy());

  it("joins two hosts on one bridge and removes every namespace on destroy", async () => {
    network = await VirtualNetwork.create();
    const a = await network.addHost("a", 1);
    const b = await network.addHost("b", 2);
    const ping = await a.run("busybox", ["ping", "-c", "1", "-W", "2", b.address]);
    expect(ping.exitCode).toBe(0);
    await network.destroy();
    const { stdout } = await execa("ip", ["netns", "list"]);
    expect(stdout).not.toContain(network.id);
  });
});
