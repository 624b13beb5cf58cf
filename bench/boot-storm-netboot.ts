/**
 * Bench entry, run inside the server namespace by boot-storm.bench.ts: the real NetbootServer
 * (proxyDHCP 67 + 4011, TFTP 69, HTTP) with Debian's first stages and a policy that boots every
 * machine into `kernel` + `initrd`, as `netboot serve` runs it. Nothing is printed per request
 * (printing would be measured too). Prints {"kind":"ready","httpUrl":…} once listening, and on
 * SIGTERM one {"kind":"tftp",…} line counting what the TFTP server did: transfers started (and
 * how many of them for a client port that already had one), refusals "server busy", requests
 * left for their repeat at the transfer limit, transfers that timed out. A busy refusal or a
 * second transfer for one client port is the server's doing, not the network's.
 */
import { NetbootServer, staticPolicy, type NetbootEvent } from "../packages/netboot/src/index.js";

interface StormServerConfig {
  readonly serverAddress: string;
  readonly httpPort: number;
  readonly kernel: string;
  readonly initrd: string;
}

const config = JSON.parse(process.argv[2] ?? "{}") as StormServerConfig;
const server = new NetbootServer({
  serverAddress: config.serverAddress,
  httpPort: config.httpPort,
  policy: staticPolicy({ kernel: config.kernel, initrds: [config.initrd] }),
});
/** What the TFTP server did during the storm, from its events. */
const tftp = {
  started: 0,
  restartedForSamePort: 0,
  busy: 0,
  deferred: 0,
  timedOut: 0,
  /** Most transfers in progress at once (probes included). */
  mostAtOnce: 0,
  busyReasons: [] as string[],
};
const inProgress = new Set<string>();
/** Enough refusal reasons to tell the global limit from the per-address one. */
const BUSY_REASONS_KEPT = 5;
const peersStarted = new Set<string>();
server.events.on((event: NetbootEvent) => {
  if (event.type === "tftp.start") {
    tftp.started++;
    if (peersStarted.has(event.peer)) tftp.restartedForSamePort++;
    peersStarted.add(event.peer);
    inProgress.add(event.peer);
    tftp.mostAtOnce = Math.max(tftp.mostAtOnce, inProgress.size);
  } else if (event.type === "tftp.end") {
    inProgress.delete(event.peer);
  } else if (event.type === "tftp.error") {
    inProgress.delete(event.peer);
    if (event.reason.includes("busy") || event.reason.startsWith("refused")) {
      tftp.busy++;
      if (tftp.busyReasons.length < BUSY_REASONS_KEPT) tftp.busyReasons.push(event.reason);
    }
    if (event.reason.startsWith("deferred")) tftp.deferred++;
    if (event.reason.startsWith("timed out")) tftp.timedOut++;
  }
});
await server.start();
process.stdout.write(`${JSON.stringify({ kind: "ready", httpUrl: server.httpUrl })}\n`);
const stop = async () => {
  await server.close();
  process.stdout.write(`${JSON.stringify({ kind: "tftp", ...tftp })}\n`);
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
