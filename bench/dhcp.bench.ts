/**
 * proxyDHCP reply latency: 10k PXE DISCOVERs at 1k/s from one namespace to a server in another
 * (same bridge), timed from send to the matching OFFER, for our ProxyDhcpServer and for dnsmasq
 * in proxy mode in the same run. The DISCOVERs go in rounds, alternating the two servers, so
 * both meet the same load from the rest of a shared machine. Prints p50/p99 and the ratios
 * with their targets (issue 12): p50 and p99 no worse than dnsmasq's (ratio ≤ 1.00), every
 * DISCOVER answered; and (issue 2) p99 below 2 ms. Needs root and dnsmasq.
 *
 *   npx tsx bench/dhcp.bench.ts    (DHCP_BENCH_COUNT, _RATE, _ROUNDS, _WARMUP change the load)
 */
import { VirtualNetwork, type NetHost } from "../packages/lab/src/netns.js";
import {
  LAB_DHCP_CLIENT,
  LAB_PROXY_SERVER,
  proxyDnsmasqArgs,
  runLabEntry,
} from "../packages/netboot/test/dhcp/lab.js";

const COUNT = Number(process.env.DHCP_BENCH_COUNT ?? 10_000);
const RATE = Number(process.env.DHCP_BENCH_RATE ?? 1_000);
const ROUNDS = Number(process.env.DHCP_BENCH_ROUNDS ?? 5);
const SERVER_ADDRESS = "10.77.0.2";
const SUBNET_BROADCAST = "10.77.0.255";
const P99_TARGET_MS = 2;
/** Issue 12: our p50 and p99 at most dnsmasq's, as ours/dnsmasq ratios. */
const RATIO_TARGET = 1;
const SETTLE_MS = 2_000;
const DNSMASQ_START_MS = 1_000;
/**
 * DISCOVERs sent to a freshly started server before a round is timed: a PXE server runs for
 * hours, so its first second (JIT warm-up, first garbage collections) is not what we measure.
 */
const WARMUP_COUNT = Number(process.env.DHCP_BENCH_WARMUP ?? 1_000);

interface Result {
  readonly kind: "result";
  readonly sent: number;
  readonly answered: number;
  readonly latenciesMs: number[];
}

interface Summary {
  readonly answered: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] as number;
}

/** One round: `count` DISCOVERs from the client namespace; the reply latencies of this round. */
async function measureRound(client: NetHost, count: number): Promise<Result> {
  const run = runLabEntry<Result>(client, LAB_DHCP_CLIENT, {
    target: "255.255.255.255",
    serverId: SERVER_ADDRESS,
    garbage: 0,
    count,
    ratePerSecond: RATE,
    settleMs: SETTLE_MS,
  });
  const timeoutMs = (count / RATE) * 1000 * 3 + 30_000;
  const result = await run.waitFor((record) => record.kind === "result", timeoutMs, "the client");
  await run.stop();
  return result;
}

function summarize(rounds: readonly Result[]): Summary {
  const sorted = rounds.flatMap((round) => round.latenciesMs).sort((a, b) => a - b);
  return {
    answered: rounds.reduce((sum, round) => sum + round.answered, 0),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

function line(name: string, summary: Summary): string {
  const ms = (value: number) => `${value.toFixed(3)} ms`.padStart(10);
  return `${name.padEnd(22)} answered ${String(summary.answered).padStart(6)}/${COUNT}  p50 ${ms(summary.p50)}  p99 ${ms(summary.p99)}  max ${ms(summary.max)}`;
}

const network = await VirtualNetwork.create();
try {
  const server = await network.addHost("server", 2);
  const client = await network.addHost("client", 3);

  const perRound = Math.ceil(COUNT / ROUNDS);
  const oursRounds: Result[] = [];
  const dnsmasqRounds: Result[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const count = Math.min(perRound, COUNT - round * perRound);
    if (count <= 0) break;
    const ours = runLabEntry<{ kind: string }>(server, LAB_PROXY_SERVER, {
      serverAddress: SERVER_ADDRESS,
      httpPort: 8080,
      broadcastAddress: SUBNET_BROADCAST,
      listeners: false,
      printEvents: false,
    });
    await ours.waitFor((record) => record.kind === "ready", 30_000, "our server to start");
    await measureRound(client, WARMUP_COUNT);
    oursRounds.push(await measureRound(client, count));
    await ours.stop();

    const dnsmasq = server.run(
      "dnsmasq",
      proxyDnsmasqArgs(["--quiet-dhcp", "--log-facility=/dev/null", "--dhcp-leasefile=/dev/null"]),
      { reject: false },
    );
    await new Promise((resolve) => setTimeout(resolve, DNSMASQ_START_MS));
    await measureRound(client, WARMUP_COUNT);
    dnsmasqRounds.push(await measureRound(client, count));
    dnsmasq.kill("SIGTERM");
    await dnsmasq;
  }
  const oursSummary = summarize(oursRounds);
  const dnsmasqSummary = summarize(dnsmasqRounds);

  console.log(
    `proxyDHCP reply latency, ${COUNT} PXE DISCOVERs at ${RATE}/s in ${ROUNDS} alternating rounds, namespace to namespace`,
  );
  console.log(line("netboot ProxyDhcpServer", oursSummary));
  console.log(line("dnsmasq (proxy mode)", dnsmasqSummary));
  const ratio = (name: "p50" | "p99") => {
    const value = oursSummary[name] / dnsmasqSummary[name];
    const verdict = value <= RATIO_TARGET ? "met" : "NOT met";
    return `${name} ours/dnsmasq ${value.toFixed(2)}x (target <= ${RATIO_TARGET.toFixed(2)}x: ${verdict})`;
  };
  console.log(`ratio ${ratio("p50")}`);
  console.log(`ratio ${ratio("p99")}`);
  const allAnswered = oursSummary.answered === COUNT;
  console.log(
    `answered ${oursSummary.answered}/${COUNT} (target all: ${allAnswered ? "met" : "NOT met"})`,
  );
  console.log(
    `p99 ${oursSummary.p99.toFixed(3)} ms (target < ${P99_TARGET_MS} ms: ${oursSummary.p99 < P99_TARGET_MS ? "met" : "NOT met"})`,
  );
} finally {
  await network.destroy();
}
