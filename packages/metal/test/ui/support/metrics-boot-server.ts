/**
 * Test entry, run inside a network namespace by metrics.netns.test.ts: a real NetbootServer
 * (proxyDHCP on 67/4011, TFTP on 69, HTTP) with /metrics on its HTTP server, booting only
 * `allowedMac`. Prints {"kind":"ready"} once every server listens.
 *
 *   ip netns exec NS node --import tsx metrics-boot-server.ts '{"serverAddress":"10.77.0.2",...}'
 */
import { NetbootServer, parseMac, staticPolicy } from "netboot";
import { Metrics, registerMetricsRoute } from "../../../src/ui/metrics.js";

interface Config {
  readonly serverAddress: string;
  readonly httpPort: number;
  readonly allowedMac: string;
}

const config = JSON.parse(process.argv[2] ?? "{}") as Config;
const server = new NetbootServer({
  serverAddress: config.serverAddress,
  policy: staticPolicy(
    { kernel: "/boot/vmlinuz", initrds: [] },
    new Set([parseMac(config.allowedMac)]),
  ),
  httpPort: config.httpPort,
});
const metrics = new Metrics({ netbootEvents: server.events });
registerMetricsRoute(server.http.app, metrics);
await server.start();
process.stdout.write(`${JSON.stringify({ kind: "ready", http: server.httpUrl })}\n`);

const stop = async () => {
  metrics.close();
  await server.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
