/**
 * proxyDHCP reply latency: 10k PXE DISCOVERs at 1k/s from one namespace to a server in another
 * (same bridge), timed from send to the matching OFFER, for our ProxyDhcpServer and for dnsmasq
 * in proxy mode in the same run. The DISCOVERs go in rounds, alternating the two servers, so
 * both meet the same load from the rest of a shared machine. Prints p50/p99 and the ratios
 * with their targets (issue 12): p50 and p99 no worse than dnsmasq's (ratio ≤ 1.00, the median
 * of the per-round ratios), every DISCOVER answered; and (issue 2) p99 below 2 ms. Also the
 * load average and each server's CPU per answer (ADR 0320). A third server in the same rounds,
 * the Node floor (a prebuilt OFFER patched and sent, no DHCP code), shows what any server on
 * Node's dgram pays per datagram, read against dnsmasq (no target). Needs root and dnsmasq.
 *
 *   npx tsx bench/dhcp.bench.ts    (DHCP_BENCH_COUNT, _RATE, _ROUNDS, _WARMUP change the load)
 */
import { readdirSync, readFileSync } from "node:fs";
import { VirtualNetwork, type NetHost } from "../packages/lab/src/netns.js";
import { fileURLToPath } from "node:url";
import {
  BUILT_PROXY_SERVER,
  LAB_DHCP_CLIENT,
  NODE_FLOOR_SERVER,
  proxyDnsmasqArgs,
  runLabEntry,
} from "../packages/netboot/test/dhcp/lab.js";
import { loadAverage, median } from "./stats.js";

const COUNT = Number(process.env.DHCP_BENCH_COUNT ?? 10_000);
const RATE = Number(process.env.DHCP_BENCH_RATE ?? 1_000);
const ROUNDS = Number(process.env.DHCP_BENCH_ROUNDS ?? 5);
const SERVER_ADDRESS = "10.77.0.2";
/** The built library, run by plain node as users run it (`npm run bench` builds first). */
const LIBRARY = fileURLToPath(new URL("../packages/netboot/dist/index.js", import.meta.url));
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

interface Round extends Result {
  /** CPU time the server process (all its threads) used during the timed DISCOVERs. */
  readonly serverCpuNs: number;
}

interface Summary {
  readonly answered: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Server CPU per answered DISCOVER: what a busy host's scheduler has to find for it. */
  readonly cpuUsPerAnswer: number;
}

/**
 * CPU time of a process so far, in nanoseconds, summed over its threads (the first field of
 * /proc/PID/task/TID/schedstat is time on the CPU; proc(5)). Finer than /proc/PID/stat's ticks.
 */
function processCpuNs(pid: number): number {
  let total = 0;
  for (const thread of readdirSync(`/proc/${pid}/task`)) {
    const fields = readFileSync(`/proc/${pid}/task/${thread}/schedstat`, "utf8").split(" ");
    total += Number(fields[0]);
  }
  return total;
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

/** The timed round, with the server's CPU time over it (the server process is `pid`). */
async function timedRound(client: NetHost, count: number, pid: number): Promise<Round> {
  const cpuBefore = processCpuNs(pid);
  const result = await measureRound(client, count);
  return { ...result, serverCpuNs: processCpuNs(pid) - cpuBefore };
}

function summarize(rounds: readonly Round[]): Summary {
  const sorted = rounds.flatMap((round) => round.latenciesMs).sort((a, b) => a - b);
  const answered = rounds.reduce((sum, round) => sum + round.answered, 0);
  const cpuNs = rounds.reduce((sum, round) => sum + round.serverCpuNs, 0);
  return {
    answered,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
    cpuUsPerAnswer: cpuNs / 1000 / answered,
  };
}

function line(name: string, summary: Summary): string {
  const ms = (value: number) => `${value.toFixed(3)} ms`.padStart(10);
  return `${name.padEnd(22)} answered ${String(summary.answered).padStart(6)}/${COUNT}  p50 ${ms(summary.p50)}  p99 ${ms(summary.p99)}  max ${ms(summary.max)}  CPU ${summary.cpuUsPerAnswer.toFixed(1)} µs/answer`;
}

function roundLine(name: string, rounds: readonly Round[]): string {
  const p50s = rounds.map((round) => summarize([round]).p50.toFixed(3));
  return `${name.padEnd(22)} p50 per round (ms): ${p50s.join("  ")}`;
}

const loadAtStart = loadAverage();
const network = await VirtualNetwork.create();
try {
  const server = await network.addHost("server", 2);
  const client = await network.addHost("client", 3);

  const perRound = Math.ceil(COUNT / ROUNDS);
  const oursRounds: Round[] = [];
  const floorRounds: Round[] = [];
  const dnsmasqRounds: Round[] = [];
  /** A timed round against a Node entry started in the server namespace. */
  const nodeRound = async (entry: string, count: number): Promise<Round> => {
    const started = runLabEntry<{ kind: string }>(server, entry, {
      library: LIBRARY,
      serverAddress: SERVER_ADDRESS,
      httpPort: 8080,
      broadcastAddress: SUBNET_BROADCAST,
    });
    await started.waitFor((record) => record.kind === "ready", 30_000, `${entry} to start`);
    await measureRound(client, WARMUP_COUNT);
    const result = await timedRound(client, count, started.process.pid as number);
    await started.stop();
    return result;
  };
  for (let round = 0; round < ROUNDS; round++) {
    const count = Math.min(perRound, COUNT - round * perRound);
    if (count <= 0) break;
    oursRounds.push(await nodeRound(BUILT_PROXY_SERVER, count));
    floorRounds.push(await nodeRound(NODE_FLOOR_SERVER, count));

    const dnsmasq = server.run(
      "dnsmasq",
      proxyDnsmasqArgs(["--quiet-dhcp", "--log-facility=/dev/null", "--dhcp-leasefile=/dev/null"]),
      { reject: false },
    );
    await new Promise((resolve) => setTimeout(resolve, DNSMASQ_START_MS));
    await measureRound(client, WARMUP_COUNT);
    dnsmasqRounds.push(await timedRound(client, count, dnsmasq.pid as number));
    dnsmasq.kill("SIGTERM");
    await dnsmasq;
  }
  const oursSummary = summarize(oursRounds);
  const floorSummary = summarize(floorRounds);
  const dnsmasqSummary = summarize(dnsmasqRounds);

  console.log(
    `proxyDHCP reply latency, ${COUNT} PXE DISCOVERs at ${RATE}/s in ${ROUNDS} alternating rounds, namespace to namespace`,
  );
  console.log(`load average (1, 5, 15 min) at start ${loadAtStart}, at end ${loadAverage()}`);
  console.log(line("netboot ProxyDhcpServer", oursSummary));
  console.log(line("Node floor (no DHCP code)", floorSummary));
  console.log(line("dnsmasq (proxy mode)", dnsmasqSummary));
  console.log(roundLine("netboot ProxyDhcpServer", oursRounds));
  console.log(roundLine("Node floor (no DHCP code)", floorRounds));
  console.log(roundLine("dnsmasq (proxy mode)", dnsmasqRounds));
  // Judged per round: each of our rounds against the dnsmasq round right after it, which met
  // nearly the same host; the median of those ratios. Pooled percentiles over all rounds let
  // one busy stretch of the host decide (shown too, for comparison with earlier runs).
  const perRoundRatios = (name: "p50" | "p99", top: readonly Round[], bottom: readonly Round[]) =>
    top.map((round, index) => summarize([round])[name] / summarize([bottom[index] as Round])[name]);
  const ratio = (name: "p50" | "p99") => {
    const perRound = perRoundRatios(name, oursRounds, dnsmasqRounds);
    const value = median(perRound);
    const pooled = oursSummary[name] / dnsmasqSummary[name];
    const verdict = value <= RATIO_TARGET ? "met" : "NOT met";
    return `${name} ours/dnsmasq ${value.toFixed(2)}x, median of per-round ratios ${perRound.map((r) => r.toFixed(2)).join(" ")} (target <= ${RATIO_TARGET.toFixed(2)}x: ${verdict}); pooled ${pooled.toFixed(2)}x`;
  };
  console.log(`ratio ${ratio("p50")}`);
  console.log(`ratio ${ratio("p99")}`);
  // No target: what Node's runtime alone costs against dnsmasq, and what our DHCP code adds.
  for (const name of ["p50", "p99"] as const) {
    const floor = median(perRoundRatios(name, floorRounds, dnsmasqRounds));
    const ours = median(perRoundRatios(name, oursRounds, floorRounds));
    console.log(
      `ratio ${name} Node floor/dnsmasq ${floor.toFixed(2)}x, ours/Node floor ${ours.toFixed(2)}x (medians of per-round ratios; no target)`,
    );
  }
  // No target: it explains the latencies. A server that needs more CPU per request than its
  // share of a busy host queues, and its latency grows with the queue, not with its code.
  console.log(
    `ratio CPU per answer ours/dnsmasq ${(oursSummary.cpuUsPerAnswer / dnsmasqSummary.cpuUsPerAnswer).toFixed(2)}x (no target)`,
  );
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
