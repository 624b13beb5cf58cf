/**
 * The hostile LAN client of test/hostile.netns.test.ts, run inside the attacker's namespace
 * (`ip netns exec NS tsx attacker.entry.ts ATTACK ARGS…`). Each attack is bounded: it sends a
 * fixed number of packets or bytes, prints one JSON line with what it saw, and exits by itself.
 */
import dgram from "node:dgram";
import { connect, type Socket } from "node:net";
import { decodeTftp } from "../../src/tftp/decode.js";
import { encodeTftp } from "../../src/tftp/encode.js";

const TFTP_PORT = 69;

const report = (value: unknown) => console.log(JSON.stringify(value));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One datagram from `sourcePort`, which the test's nftables rule rewrites to 0 on the way out. */
async function sendFromPortZero(
  host: string,
  port: number,
  hex: string,
  sourcePort: number,
): Promise<void> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(sourcePort, resolve));
  await new Promise<void>((resolve) =>
    socket.send(Buffer.from(hex, "hex"), port, host, () => resolve()),
  );
  socket.close();
  report({ sent: hex.length / 2 });
}

/**
 * `count` read requests from one address, each asking for the longest RFC 2349 timeout, none
 * ever acknowledged; the sockets stay open `holdMs` so the server's transfers stay theirs.
 */
async function holdTftpSlots(host: string, count: number, holdMs: number): Promise<void> {
  const request = encodeTftp({
    type: "RRQ",
    filename: "ipxe.efi",
    mode: "octet",
    options: [
      { name: "timeout", value: "255" },
      { name: "blksize", value: "512" },
    ],
  });
  const firstReplies: Array<ReturnType<typeof decodeTftp> | undefined> = [];
  const sockets = await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const socket = dgram.createSocket("udp4");
      socket.on("message", (bytes) => {
        firstReplies[index] ??= decodeTftp(bytes);
      });
      await new Promise<void>((resolve) => socket.bind(0, resolve));
      socket.send(request, TFTP_PORT, host);
      return socket;
    }),
  );
  await sleep(1500);
  const oacks = firstReplies.filter((reply) => reply?.type === "OACK");
  report({
    oack: oacks.length,
    busy: firstReplies.filter((reply) => reply?.type === "ERROR").length,
    timeoutAcknowledged: oacks.filter(
      (reply) => reply?.type === "OACK" && reply.options.some((o) => o.name === "timeout"),
    ).length,
  });
  await sleep(holdMs);
  for (const socket of sockets) socket.close();
}

/** A 1409-byte read request whose name JSON-escaping would blow up; reports the reply size. */
async function reflect(host: string): Promise<void> {
  const filename = '"\u0001'.repeat(700);
  const request = encodeTftp({ type: "RRQ", filename, mode: "octet", options: [] });
  const socket = dgram.createSocket("udp4");
  const reply = await new Promise<Buffer | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 3000);
    socket.once("message", (bytes) => {
      clearTimeout(timer);
      resolve(bytes);
    });
    socket.send(request, TFTP_PORT, host);
  });
  socket.close();
  report({ request: request.length, reply: reply?.length ?? 0 });
}

interface Connection {
  readonly socket: Socket;
  closedAt: number | undefined;
  received: string;
}

function openConnection(host: string, port: number, paused: boolean): Connection {
  const socket = connect(port, host);
  const connection: Connection = { socket, closedAt: undefined, received: "" };
  if (paused) socket.pause();
  else socket.on("data", (chunk: Buffer) => (connection.received += chunk.toString("latin1")));
  socket.on("error", () => undefined);
  socket.once("close", () => (connection.closedAt = Date.now()));
  return connection;
}

/**
 * `count` downloads of `path` whose reader never reads, held `holdMs`. A paused socket cannot
 * see the server close it: the test reads what happened from the server's events.
 */
async function unreadDownloads(
  host: string,
  port: number,
  path: string,
  count: number,
  holdMs: number,
) {
  const connections = Array.from({ length: count }, () => {
    const connection = openConnection(host, port, true);
    connection.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    return connection;
  });
  await sleep(holdMs);
  for (const { socket } of connections) socket.destroy();
  report({ opened: connections.length });
}

/** Sends `head`, then one byte of `drip` every `intervalMs`; reports when the server hung up. */
async function trickle(host: string, port: number, head: string, drip: string, intervalMs: number) {
  const connection = openConnection(host, port, false);
  const closed = new Promise<true>((resolve) =>
    connection.socket.once("close", () => resolve(true)),
  );
  const started = Date.now();
  connection.socket.write(head);
  for (const byte of drip) {
    if (await Promise.race([closed, sleep(intervalMs).then(() => false)])) break;
    connection.socket.write(byte);
  }
  await Promise.race([closed, sleep(intervalMs)]);
  report({
    closedAfterMs: connection.closedAt === undefined ? undefined : connection.closedAt - started,
    status: /^HTTP\/1\.1 (\d+)/.exec(connection.received)?.[1],
  });
  connection.socket.destroy();
}

const [attack, host = "", ...args] = process.argv.slice(2);
const number = (index: number) => Number(args[index]);
switch (attack) {
  case "udp-port-zero":
    await sendFromPortZero(host, number(0), args[1] ?? "", number(2));
    break;
  case "tftp-hold":
    await holdTftpSlots(host, number(0), number(1));
    break;
  case "tftp-reflect":
    await reflect(host);
    break;
  case "http-unread":
    await unreadDownloads(host, number(0), args[1] ?? "/", number(2), number(3));
    break;
  case "http-trickle-body":
    // A POST announcing 1000 bytes, then sending them one at a time.
    await trickle(
      host,
      number(0),
      `POST ${args[1]} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`,
      "{".padEnd(number(3), " "),
      number(2),
    );
    break;
  case "http-drip-headers":
    await trickle(
      host,
      number(0),
      `GET ${args[1]} HTTP/1.1\r\n`,
      "X-Drip: y\r\n".repeat(number(3)),
      number(2),
    );
    break;
  default:
    console.error(`unknown attack ${attack}`);
    process.exit(2);
}
