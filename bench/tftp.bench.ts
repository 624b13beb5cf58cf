/**
 * TFTP throughput of a 1 MiB file, our server against tftp-hpa's in.tftpd in the same run,
 * both on 127.0.0.1 high ports behind a relay that holds each packet 1 ms each way. The client
 * is atftp 0.8 for both (it speaks windowsize). Targets (issue 12): lock-step ≥ 1.1× tftp-hpa
 * at blksize 1468 and at 512; with windowsize ≥ 10× tftp-hpa (which has no windowsize, so it
 * runs lock-step).
 *
 * Each fetch is timed twice: on the wire (the relay's first and last datagram from the client:
 * the request to the final ACK), which the ratios use, and wall-clock around the atftp process,
 * which also holds its start and exit, the same ~10 ms for every scenario (a larger share of a
 * 0.2 s windowed fetch than of a 2 s lock-step one).
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { startUdpRelay } from "../packages/lab/src/udp-relay.js";
import { median } from "./stats.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const TSX = path.resolve(here, "../node_modules/.bin/tsx");
const OUR_SERVER = path.resolve(here, "../packages/netboot/test/tftp/serve.entry.ts");
const LOOPBACK = "127.0.0.1";
const FILE_SIZE = 1024 * 1024;
const RELAY_DELAY_MS = 1;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BLOCK_SIZE = 1468;
const WINDOW_SIZE = 16;
const HPA_PORT = 16_969;
const TARGET_LOCKSTEP = 1.1;
const TARGET_WINDOWED = 10;

interface Scenario {
  readonly name: string;
  readonly port: number;
  readonly options: readonly string[];
}

async function startOurServer(root: string): Promise<{ port: number; process: ResultPromise }> {
  const child = execa(TSX, [OUR_SERVER, root, LOOPBACK, "0"], { buffer: false });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      const match = /listening [\d.]+:(\d+)/.exec(chunk.toString());
      if (match) resolve(Number(match[1]));
    });
    child.catch(reject);
  });
  return { port, process: child };
}

async function startTftpHpa(root: string): Promise<{ process: ResultPromise }> {
  // -L: foreground listener; -s: chroot into the root, as packagers run it.
  const child = execa("in.tftpd", ["-L", "-a", `${LOOPBACK}:${HPA_PORT}`, "-s", root], {
    reject: false,
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  if (child.exitCode !== null) throw new Error(`in.tftpd exited: ${String((await child).stderr)}`);
  // Wrapped: an async function returning the subprocess itself would wait for it to exit.
  return { process: child };
}

interface FetchTime {
  /** From the client's request to its final ACK, as the relay saw them. */
  readonly wire: number;
  /** Around the atftp process. */
  readonly wall: number;
}

/** Seconds for atftp to fetch the file once through a fresh relay. */
async function fetchOnce(scenario: Scenario, remote: string): Promise<FetchTime> {
  const relay = await startUdpRelay(
    { address: LOOPBACK, port: scenario.port },
    { delayMs: RELAY_DELAY_MS },
  );
  const started = performance.now();
  const options = scenario.options.flatMap((option) => ["--option", option]);
  const result = await execa(
    "atftp",
    ["-g", "-r", remote, "-l", "/dev/null", ...options, LOOPBACK, String(relay.port)],
    { reject: false, timeout: 120_000 },
  );
  const wall = (performance.now() - started) / 1000;
  const activity = relay.clientActivity();
  await relay.close();
  if (result.exitCode !== 0 || !activity) {
    throw new Error(`${scenario.name}: atftp failed: ${result.stdout} ${result.stderr}`);
  }
  return { wire: (activity.last - activity.first) / 1000, wall };
}

/**
 * Median seconds per scenario. Runs are interleaved (every scenario once per round) so the load
 * other processes put on a shared machine spreads over all scenarios alike.
 */
async function measure(scenarios: readonly Scenario[], remote: string) {
  const times = new Map<string, FetchTime[]>(scenarios.map((scenario) => [scenario.name, []]));
  for (let round = 0; round < RUNS; round++) {
    for (const scenario of scenarios) {
      times.get(scenario.name)?.push(await fetchOnce(scenario, remote));
    }
  }
  const medians = new Map<string, FetchTime>();
  for (const [name, runs] of times) {
    medians.set(name, {
      wire: median(runs.map((run) => run.wire)),
      wall: median(runs.map((run) => run.wall)),
    });
  }
  return medians;
}

const base = await mkdtemp(path.join(tmpdir(), "tftp-bench-"));
// in.tftpd drops to user nobody: the root must be readable by everyone.
await chmod(base, 0o755);
await writeFile(path.join(base, "bench.bin"), randomBytes(FILE_SIZE), { mode: 0o644 });
const ours = await startOurServer(base);
const hpa = await startTftpHpa(base);
try {
  const lockstep = [`blksize ${BLOCK_SIZE}`, "tsize 0"];
  const scenarios: Scenario[] = [
    { name: "tftp-hpa  blksize 1468", port: HPA_PORT, options: lockstep },
    { name: "ours      blksize 1468", port: ours.port, options: lockstep },
    {
      name: `ours      blksize 1468 windowsize ${WINDOW_SIZE}`,
      port: ours.port,
      options: [...lockstep, `windowsize ${WINDOW_SIZE}`],
    },
    { name: "tftp-hpa  blksize 512 (no options)", port: HPA_PORT, options: [] },
    { name: "ours      blksize 512 (no options)", port: ours.port, options: [] },
  ];
  console.log(
    `TFTP 1 MiB through a ${RELAY_DELAY_MS} ms/direction relay, atftp client, median of ${RUNS}`,
  );
  const times = await measure(scenarios, "bench.bin");
  for (const scenario of scenarios) {
    const { wire, wall } = times.get(scenario.name) as FetchTime;
    const mibPerSecond = FILE_SIZE / 1024 / 1024 / wire;
    console.log(
      `${scenario.name.padEnd(40)} ${wire.toFixed(3)} s on the wire  ${mibPerSecond.toFixed(2)} MiB/s  (${wall.toFixed(3)} s around atftp)`,
    );
  }
  const seconds = new Map([...times].map(([name, time]) => [name, time.wire]));
  const wallSeconds = new Map([...times].map(([name, time]) => [name, time.wall]));
  const ratio = (ourName: string, theirName: string, from = seconds) =>
    (from.get(theirName) as number) / (from.get(ourName) as number);
  const lockstepRatio = ratio(scenarios[1]!.name, scenarios[0]!.name);
  const windowedRatio = ratio(scenarios[2]!.name, scenarios[0]!.name);
  const plainRatio = ratio(scenarios[4]!.name, scenarios[3]!.name);
  const verdict = (value: number, target: number) => (value >= target ? "ok" : "BELOW TARGET");
  console.log(
    `ratio ours/tftp-hpa, blksize 1468 lock-step: ${lockstepRatio.toFixed(2)}x (target >= ${TARGET_LOCKSTEP}x: ${verdict(lockstepRatio, TARGET_LOCKSTEP)})`,
  );
  console.log(
    `ratio ours/tftp-hpa, windowsize ${WINDOW_SIZE} vs lock-step: ${windowedRatio.toFixed(2)}x (target >= ${TARGET_WINDOWED}x: ${verdict(windowedRatio, TARGET_WINDOWED)})`,
  );
  console.log(
    `ratio ours/tftp-hpa, blksize 512 lock-step: ${plainRatio.toFixed(2)}x (target >= ${TARGET_LOCKSTEP}x: ${verdict(plainRatio, TARGET_LOCKSTEP)})`,
  );
  const wallRatios = [
    ratio(scenarios[1]!.name, scenarios[0]!.name, wallSeconds),
    ratio(scenarios[2]!.name, scenarios[0]!.name, wallSeconds),
    ratio(scenarios[4]!.name, scenarios[3]!.name, wallSeconds),
  ];
  console.log(
    `(around the atftp process instead: ${wallRatios.map((value) => `${value.toFixed(2)}x`).join(" / ")}; no target)`,
  );
} finally {
  ours.process.kill("SIGTERM");
  hpa.process.kill("SIGTERM");
  await Promise.allSettled([ours.process, hpa.process]);
  await rm(base, { recursive: true, force: true });
}
