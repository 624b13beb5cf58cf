/**
 * The callback agent on a real (virtual) network, run by busybox as in the lab's initramfs: the
 * machine and the callback server live in their own network namespaces on one bridge. Shows that
 * the agent waits while the machine has no address yet (DHCP still running) and then reports the
 * address the server really sees it from.
 */
import { execa, type ResultPromise } from "execa";
import { VirtualNetwork, type NetHost } from "metal-lab";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  AGENT,
  agentEnv,
  BOOTIF_MAC,
  BUSYBOX,
  busyboxPath,
  fakeMachine,
  ROUTE_INTERFACE_MAC,
  TOKEN,
} from "./helpers/fake-machine.js";
import { Output } from "./helpers/output.js";

const SERVER_OCTET = 1;
const MACHINE_OCTET = 2;
const CALLBACK_PORT = 8080;

/** Records each request as one JSON line on stdout and answers 200. */
const RECORDING_SERVER = `
const http = require("node:http");
http
  .createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      console.log(JSON.stringify({ url: req.url, authorization: req.headers.authorization,
        remote: req.socket.remoteAddress, body: JSON.parse(body) }));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ host: "node1", status: "accepted" }));
    });
  })
  .listen(Number(process.argv[2]), process.argv[1], () => console.log("listening"));
`;

interface Recorded {
  readonly url: string;
  readonly authorization: string;
  readonly remote: string;
  readonly body: Record<string, unknown>;
}

function recordedRequests(output: Output): Recorded[] {
  return output.lines
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Recorded);
}

describe("metal-agent.sh on a virtual network, under busybox", () => {
  let network: VirtualNetwork;
  let server: NetHost;
  let machine: NetHost;
  let serverProcess: ResultPromise;
  let serverOutput: Output;
  let work: string;

  beforeEach(async () => {
    network = await VirtualNetwork.create();
    server = await network.addHost("srv", SERVER_OCTET);
    machine = await network.addHost("m", MACHINE_OCTET);
    work = await mkdtemp(join(tmpdir(), "metal-agent-netns-"));
    const [file, args] = server.argv(process.execPath, [
      "-e",
      RECORDING_SERVER,
      server.address,
      String(CALLBACK_PORT),
    ]);
    serverProcess = execa(file, args, { reject: false });
    serverOutput = new Output(serverProcess.stdout);
    await serverOutput.waitFor("listening");
  });

  afterEach(async () => {
    serverProcess.kill();
    await serverProcess;
    await network.destroy();
    await rm(work, { recursive: true, force: true });
  });

  /** Starts the agent; wrapped so that awaiting this does not wait for the agent to exit. */
  async function startAgent(mode: "installer" | "first-boot") {
    const root = join(work, "root");
    await fakeMachine(root, {
      callback: `http://${server.address}:${CALLBACK_PORT}/callback/v1`,
      routeInterface: "eth0",
    });
    // PATH with only busybox applets must reach the agent, not `ip netns exec` (busybox's ip
    // has no netns): set it inside the namespace with env(1).
    const [file, args] = machine.argv("env", [
      `PATH=${await busyboxPath(work)}`,
      BUSYBOX,
      "sh",
      AGENT,
      mode,
    ]);
    const agent = execa(file, args, {
      reject: false,
      timeout: 60_000,
      env: agentEnv(root, work, process.env.PATH ?? ""),
      extendEnv: false,
    });
    return { agent, stderr: new Output(agent.stderr) };
  }

  it("waits until the machine has an address, then reports the one the server sees", async () => {
    await machine.run("ip", ["addr", "flush", "dev", machine.interface]);
    const { agent, stderr } = await startAgent("installer");
    await stderr.waitFor(`no IPv4 route to ${server.address} yet`);

    await machine.run("ip", ["addr", "add", `${machine.address}/24`, "dev", machine.interface]);
    const result = await agent;
    expect(result.exitCode, result.stderr).toBe(0);

    const [request] = recordedRequests(serverOutput);
    expect(request?.url).toBe("/callback/v1/installer");
    expect(request?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request?.remote).toBe(machine.address);
    expect(request?.body).toMatchObject({ mac: BOOTIF_MAC, ip: machine.address });
  });

  it("reports the first boot with the MAC of the interface that reaches the server", async () => {
    const { agent } = await startAgent("first-boot");
    const result = await agent;
    expect(result.exitCode, result.stderr).toBe(0);

    const [request] = recordedRequests(serverOutput);
    expect(request?.url).toBe("/callback/v1/first-boot");
    expect(request?.body).toMatchObject({ mac: ROUTE_INTERFACE_MAC, ip: machine.address });
  });
});
