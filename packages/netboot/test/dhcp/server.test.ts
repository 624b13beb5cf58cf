import dgram from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConfigError,
  decodeDhcp,
  DhcpMessageType,
  encodeDhcp,
  messageType,
  NetbootEvents,
  option,
  ProxyDhcpServer,
  chainload,
  readOption,
  type BootPolicy,
  type DhcpPacket,
  type NetbootEvent,
} from "../../src/index.js";
import { clientPacket } from "./client-packet.js";

// Unit tests bind 127.0.0.1 only: the 4011 path answers by unicast to the sender, which loopback
// can show without namespaces. Broadcast behaviour is in dhcp.netns.test.ts.
const LOOPBACK = "127.0.0.1";

function pxeRequest(): Buffer {
  return encodeDhcp(
    clientPacket({
      xid: 42,
      ciaddr: LOOPBACK,
      options: new Map([
        option("messageType", DhcpMessageType.request),
        option("vendorClassIdentifier", "PXEClient:Arch:00007:UNDI:003000"),
        option("clientArchitecture", [7]),
      ]),
    }),
  );
}

const servers: ProxyDhcpServer[] = [];
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  for (const socket of sockets.splice(0)) socket.close();
});

async function startServer(policy: BootPolicy, { listen = true } = {}) {
  const events = new NetbootEvents();
  const seen: NetbootEvent[] = [];
  if (listen) events.on((event) => seen.push(event));
  const server = new ProxyDhcpServer({
    serverAddress: LOOPBACK,
    bootFiles: chainload({ policy, httpBaseUrl: "http://127.0.0.1:8080/" }),
    events,
    ports: { dhcp: 0, pxe: 0 },
    bindAddress: LOOPBACK,
    // Never a real broadcast from a unit test, even if one sends a DISCOVER some day.
    broadcastAddress: LOOPBACK,
  });
  servers.push(server);
  await server.start();
  return { server, seen };
}

async function client(): Promise<dgram.Socket> {
  const socket = dgram.createSocket("udp4");
  sockets.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, LOOPBACK, resolve));
  return socket;
}

function nextReply(socket: dgram.Socket): Promise<DhcpPacket> {
  return new Promise((resolve) =>
    socket.once("message", (message) => resolve(decodeDhcp(message))),
  );
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

const boot: BootPolicy = () => ({ action: "boot", spec: { kernel: "/k", initrds: [] } });

describe("ProxyDhcpServer", () => {
  it("ACKs a PXE REQUEST on its boot server port by unicast to the sender, with events", async () => {
    const { server, seen } = await startServer(boot);
    const socket = await client();
    const replied = nextReply(socket);
    socket.send(pxeRequest(), server.boundPorts.pxe as number, LOOPBACK);
    const ack = await replied;
    expect(messageType(ack)).toBe(DhcpMessageType.ack);
    expect(readOption(ack, "bootFileName")).toBe("ipxe.efi");
    await until(() => seen.some((event) => event.type === "dhcp.reply"));
    expect(seen.map((event) => event.type)).toEqual(["dhcp.request", "dhcp.reply"]);
    expect(seen[0]).toMatchObject({
      mac: "52:54:00:77:00:01",
      message: "REQUEST",
      port: 4011,
      arch: 7,
    });
    expect(seen[1]).toMatchObject({ message: "ACK", bootFile: "ipxe.efi", firmware: "uefi-x64" });
  });

  it("survives garbage, reporting why, and still answers the next valid request", async () => {
    const { server, seen } = await startServer(boot);
    const socket = await client();
    const port = server.boundPorts.pxe as number;
    for (const garbage of [
      Buffer.alloc(0),
      Buffer.from("hello"),
      Buffer.alloc(400, 0xff),
      pxeRequest().subarray(0, 250),
    ])
      socket.send(garbage, port, LOOPBACK);
    await until(() => seen.filter((event) => event.type === "dhcp.ignored").length === 4);
    const replied = nextReply(socket);
    socket.send(pxeRequest(), port, LOOPBACK);
    expect(messageType(await replied)).toBe(DhcpMessageType.ack);
    const reasons = seen.flatMap((event) => (event.type === "dhcp.ignored" ? [event.reason] : []));
    expect(reasons[1]).toMatch(/shorter than a DHCP header/);
    expect(reasons[2]).toMatch(/magic cookie/);
  });

  it("reports a throwing policy as policy.error and does not answer", async () => {
    const { server, seen } = await startServer(() => {
      throw new Error("inventory unreadable");
    });
    const socket = await client();
    let answered = false;
    socket.on("message", () => (answered = true));
    socket.send(pxeRequest(), server.boundPorts.pxe as number, LOOPBACK);
    await until(() => seen.some((event) => event.type === "policy.error"));
    expect(seen.find((event) => event.type === "policy.error")).toMatchObject({
      mac: "52:54:00:77:00:01",
      stage: "dhcp",
      error: "inventory unreadable",
    });
    expect(answered).toBe(false);
  });

  it("sends the same ACK when nobody listens to events (the send without a completion callback)", async () => {
    const replies: Buffer[] = [];
    for (const listen of [true, false]) {
      const { server } = await startServer(boot, { listen });
      const socket = await client();
      const replied = new Promise<Buffer>((resolve) => socket.once("message", resolve));
      socket.send(pxeRequest(), server.boundPorts.pxe as number, LOOPBACK);
      replies.push(await replied);
    }
    expect(messageType(decodeDhcp(replies[1] as Buffer))).toBe(DhcpMessageType.ack);
    expect(replies[1]).toEqual(replies[0]);
  });

  it("answers after an asynchronous policy settles, and reports its rejection as policy.error", async () => {
    const slowBoot: BootPolicy = async (machine) => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      return boot(machine);
    };
    const { server } = await startServer(slowBoot);
    const socket = await client();
    const replied = nextReply(socket);
    socket.send(pxeRequest(), server.boundPorts.pxe as number, LOOPBACK);
    expect(readOption(await replied, "bootFileName")).toBe("ipxe.efi");

    const failing = await startServer(() => Promise.reject(new Error("store offline")));
    socket.send(pxeRequest(), failing.server.boundPorts.pxe as number, LOOPBACK);
    await until(() => failing.seen.some((event) => event.type === "policy.error"));
    expect(failing.seen.find((event) => event.type === "policy.error")).toMatchObject({
      mac: "52:54:00:77:00:01",
      error: "store offline",
    });
  });

  it("reports a policy's ignore as dhcp.ignored with its reason", async () => {
    const { server, seen } = await startServer(() => ({
      action: "ignore",
      reason: "not in cluster.toml",
    }));
    const socket = await client();
    socket.send(pxeRequest(), server.boundPorts.pxe as number, LOOPBACK);
    await until(() => seen.some((event) => event.type === "dhcp.ignored"));
    expect(seen.find((event) => event.type === "dhcp.ignored")).toMatchObject({
      reason: "boot policy: not in cluster.toml",
      xid: 42,
    });
  });

  it("asks the policy with the machine's MAC, arch and firmware at stage dhcp", async () => {
    const asked: unknown[] = [];
    const { server } = await startServer((machine) => {
      asked.push(machine);
      return { action: "local" };
    });
    const socket = await client();
    const replied = nextReply(socket);
    socket.send(pxeRequest(), server.boundPorts.pxe as number, LOOPBACK);
    await replied;
    expect(asked).toEqual([
      {
        mac: "52:54:00:77:00:01",
        arch: 7,
        firmware: "uefi-x64",
        uuid: undefined,
        stage: "dhcp",
        httpBoot: false,
      },
    ]);
  });

  it("refuses to start on a port another server holds, naming the port and the fix", async () => {
    const holder = dgram.createSocket("udp4");
    sockets.push(holder);
    await new Promise<void>((resolve) => holder.bind(0, LOOPBACK, resolve));
    const taken = holder.address().port;
    const server = new ProxyDhcpServer({
      serverAddress: LOOPBACK,
      bootFiles: chainload({ policy: boot, httpBaseUrl: "http://127.0.0.1:8080" }),
      ports: { dhcp: 0, pxe: taken },
      bindAddress: LOOPBACK,
    });
    await expect(server.start()).rejects.toThrow(ConfigError);
    await expect(server.start()).rejects.toThrow(
      new RegExp(`127.0.0.1:${taken}.*another DHCP or PXE server`),
    );
  });

  it("releases both ports on close", async () => {
    const { server } = await startServer(boot);
    const { dhcp, pxe } = server.boundPorts;
    await server.close();
    for (const port of [dhcp, pxe]) {
      const socket = dgram.createSocket("udp4");
      sockets.push(socket);
      await new Promise<void>((resolve) => socket.bind(port, LOOPBACK, resolve));
    }
  });

  it("broadcasts replies to 255.255.255.255 unless told otherwise", () => {
    const options = {
      serverAddress: LOOPBACK,
      bootFiles: chainload({ policy: boot, httpBaseUrl: "http://x" }),
    };
    expect(new ProxyDhcpServer(options).broadcastAddress).toBe("255.255.255.255");
    expect(
      new ProxyDhcpServer({ ...options, broadcastAddress: "10.77.0.255" }).broadcastAddress,
    ).toBe("10.77.0.255");
  });
});
