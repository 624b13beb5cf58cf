/**
 * Test entry, run inside a network namespace by dhcp.netns.test.ts and relay.netns.test.ts:
 * our ProxyDhcpServer plus, for the interop test, trivial TFTP and HTTP listeners that only
 * record what a client asked for (proof that it took our boot file). Prints one JSON object per
 * line: {"kind":"ready"}, {"kind":"event",...}, {"kind":"tftp",...}, {"kind":"http",...}.
 *
 *   ip netns exec NS node --import tsx lab-proxy-server.ts '{"serverAddress":"10.77.0.2",...}'
 */
import dgram from "node:dgram";
import http from "node:http";
import { chainload, NetbootEvents, ProxyDhcpServer, staticPolicy } from "../../src/index.js";

interface LabServerConfig {
  readonly serverAddress: string;
  readonly httpPort: number;
  readonly broadcastAddress?: string;
  /** Also listen on TFTP 69 and HTTP `httpPort`, recording requests. */
  readonly listeners: boolean;
}

const TFTP_PORT = 69;
const TFTP_RRQ = 1;

const config = JSON.parse(process.argv[2] ?? "{}") as LabServerConfig;
const print = (record: object) => process.stdout.write(`${JSON.stringify(record)}\n`);

const events = new NetbootEvents();
events.on((event) => print({ kind: "event", ...event }));
const server = new ProxyDhcpServer({
  serverAddress: config.serverAddress,
  bootFiles: chainload({
    policy: staticPolicy({ kernel: "/boot/vmlinuz", initrds: ["/boot/initrd"] }),
    httpBaseUrl: `http://${config.serverAddress}:${config.httpPort}`,
  }),
  events,
  ...(config.broadcastAddress ? { broadcastAddress: config.broadcastAddress } : {}),
});
await server.start();

const closers: Array<() => Promise<void>> = [() => server.close()];
if (config.listeners) {
  const tftp = dgram.createSocket("udp4");
  tftp.on("message", (message, rinfo) => {
    if (message.readUInt16BE(0) !== TFTP_RRQ) return;
    const file = message.subarray(2, message.indexOf(0, 2)).toString("latin1");
    print({ kind: "tftp", from: rinfo.address, file });
  });
  await new Promise<void>((resolve) => tftp.bind(TFTP_PORT, "0.0.0.0", resolve));
  closers.push(() => new Promise((resolve) => tftp.close(() => resolve())));

  const web = http.createServer((request, response) => {
    print({ kind: "http", from: request.socket.remoteAddress, path: request.url });
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => web.listen(config.httpPort, "0.0.0.0", resolve));
  closers.push(() => new Promise((resolve) => web.close(() => resolve())));
}

print({ kind: "ready", broadcastAddress: server.broadcastAddress });
const stop = async () => {
  await Promise.all(closers.map((close) => close()));
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
