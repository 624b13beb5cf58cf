/**
 * Bench entry, run inside the server namespace by boot-storm.bench.ts: the real NetbootServer
 * (proxyDHCP 67 + 4011, TFTP 69, HTTP) with Debian's first stages and a policy that boots every
 * machine into `kernel` + `initrd`, as `netboot serve` runs it. Nothing is printed per request
 * (printing would be measured too). Prints {"kind":"ready","httpUrl":…} once listening.
 */
import { NetbootServer, staticPolicy } from "../packages/netboot/src/index.js";

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
await server.start();
process.stdout.write(`${JSON.stringify({ kind: "ready", httpUrl: server.httpUrl })}\n`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
