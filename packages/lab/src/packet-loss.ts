/**
 * Random packet loss on a VirtualNetwork's bridge, for tests and benches that show a protocol
 * survives a lossy link. `tc netem` is not available on our machines (../shared/LAB-NOTES.md,
 * "Network emulation"), so an nftables rule in the bridge family drops each forwarded frame with
 * the given probability (`numgen random mod 100 < N drop`, nft(8) "NUMGEN EXPRESSION"). It
 * lives in the lan namespace, so only the lab's own bridge is affected.
 */
import { execa } from "execa";
import type { VirtualNetwork } from "./netns.js";

const LOSS_TABLE = "labloss";

/** Starts dropping `percent` % of the frames the bridge forwards; returns what stops it. */
export async function addPacketLoss(
  network: VirtualNetwork,
  percent: number,
): Promise<() => Promise<void>> {
  if (!Number.isInteger(percent) || percent < 1 || percent > 100) {
    throw new RangeError(`packet loss ${percent} % is not a whole percentage from 1 to 100`);
  }
  // numgen's `mod 100` yields 0–99, and nft refuses to compare it with 100: all is plain drop.
  const verdict = percent === 100 ? "drop" : `numgen random mod 100 < ${percent} drop`;
  const rules = `table bridge ${LOSS_TABLE} {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ${verdict}
  }
}
`;
  await execa("ip", ["netns", "exec", network.lan, "nft", "-f", "-"], { input: rules });
  return async () => {
    await execa("ip", [
      "netns",
      "exec",
      network.lan,
      "nft",
      "delete",
      "table",
      "bridge",
      LOSS_TABLE,
    ]);
  };
}
