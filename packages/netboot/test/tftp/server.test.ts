import { createHash, randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import type { NetbootEvent } from "../../src/events.js";
import { decodeTftp } from "../../src/tftp/decode.js";
import { encodeTftp } from "../../src/tftp/encode.js";
import { PathRefusedError } from "../../src/errors.js";
import type { TftpFileSource, TftpPeer } from "../../src/tftp/file-source.js";
import { TftpErrorCode } from "../../src/tftp/packet.js";
import { TftpServer, type TftpServerAddress } from "../../src/tftp/server.js";
import { MAX_RETRANSMIT_INTERVAL_MS, type TransferTimers } from "../../src/tftp/transfer.js";
import { capturedRequests } from "./captures.js";
import { tftpGet } from "./client.js";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** An ERROR packet's opcode, code and NUL around the longest fixed text: a few dozen bytes. */
const MAX_ERROR_REPLY_BYTES = 64;
let root: string;
const content = randomBytes(300_000);
const servers: TftpServer[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "tftp-server-"));
  await writeFile(path.join(root, "ipxe.efi"), content);
  await writeFile(path.join(root, "exact.bin"), content.subarray(0, 4 * 512));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(() => rm(root, { recursive: true, force: true }));

async function startServer(
  options: Partial<ConstructorParameters<typeof TftpServer>[0]> = {},
): Promise<{ server: TftpServer; address: TftpServerAddress; events: NetbootEvent[] }> {
  const server = new TftpServer({ root, address: "127.0.0.1", port: 0, ...options });
  servers.push(server);
  const events: NetbootEvent[] = [];
  server.events.on((event) => events.push(event));
  const address = await server.start();
  return { server, address, events };
}

/** Sends one packet from a fresh socket and returns the first reply (or undefined). */
async function exchange(address: TftpServerAddress, bytes: Buffer, waitMs = 1000) {
  const socket = dgram.createSocket("udp4");
  return new Promise<ReturnType<typeof decodeTftp> | undefined>((resolve) => {
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, waitMs);
    socket.on("message", (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(decodeTftp(reply));
    });
    socket.send(bytes, address.port, address.address);
  });
}

/**
 * A client that asks for ipxe.efi and never acknowledges: its transfer stays open. It records
 * every reply; close() it at the end.
 */
async function silentClient(address: TftpServerAddress) {
  const socket = dgram.createSocket("udp4");
  const replies: ReturnType<typeof decodeTftp>[] = [];
  socket.on("message", (bytes) => replies.push(decodeTftp(bytes)));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  socket.send(
    encodeTftp({ type: "RRQ", filename: "ipxe.efi", mode: "octet", options: [] }),
    address.port,
    address.address,
  );
  return { replies, close: () => socket.close() };
}

describe("TftpServer on loopback", () => {
  it("serves a file byte for byte without options, from its own transfer port", async () => {
    const { address, events } = await startServer();
    const result = await tftpGet(address, "ipxe.efi");
    expect(result.error).toBeUndefined();
    expect(result.oack).toBeUndefined();
    expect(result.serverPort).not.toBe(address.port);
    expect(sha256(result.data)).toBe(sha256(content));
    await expect.poll(() => events.map((event) => event.type)).toEqual(["tftp.start", "tftp.end"]);
    expect(events[0]).toMatchObject({ file: "ipxe.efi", size: content.length, blksize: 512 });
    expect(events[1]).toMatchObject({ bytes: content.length });
  });

  it("negotiates blksize, tsize and windowsize in an OACK and serves with them", async () => {
    const { address, events } = await startServer();
    const result = await tftpGet(address, "/ipxe.efi", {
      options: [
        { name: "blksize", value: "9000" },
        { name: "tsize", value: "0" },
        { name: "windowsize", value: "8" },
        { name: "x-unknown", value: "1" },
      ],
    });
    expect(result.oack).toEqual([
      { name: "blksize", value: "1468" },
      { name: "tsize", value: String(content.length) },
      { name: "windowsize", value: "8" },
    ]);
    expect(sha256(result.data)).toBe(sha256(content));
    await expect.poll(() => events[0]).toMatchObject({ blksize: 1468, windowsize: 8 });
  });

  it("ends a file of whole blocks with an empty block", async () => {
    const { address } = await startServer();
    const result = await tftpGet(address, "exact.bin");
    expect(result.data.length).toBe(4 * 512);
  });

  it("answers a write request with ERROR access violation", async () => {
    const { address, events } = await startServer();
    const reply = await exchange(
      address,
      encodeTftp({ type: "WRQ", filename: "new.bin", mode: "octet", options: [] }),
    );
    expect(reply).toMatchObject({ type: "ERROR", code: TftpErrorCode.AccessViolation });
    expect(events).toMatchObject([{ type: "tftp.error", file: "new.bin" }]);
  });

  it("answers a missing file with ERROR file not found", async () => {
    const { address } = await startServer();
    const result = await tftpGet(address, "nothing.efi");
    expect(result.error).toMatchObject({ code: TftpErrorCode.FileNotFound });
  });

  it.each(["../../../../etc/passwd", "/../etc/passwd", "..\\..\\etc\\passwd"])(
    "refuses the traversal %s with ERROR access violation",
    async (name) => {
      const { address } = await startServer();
      const result = await tftpGet(address, name);
      expect(result.error).toMatchObject({ code: TftpErrorCode.AccessViolation });
      expect(result.data.length).toBe(0);
    },
  );

  it("refuses netascii mode with ERROR illegal operation", async () => {
    const { address } = await startServer();
    const result = await tftpGet(address, "ipxe.efi", { mode: "netascii" });
    expect(result.error).toMatchObject({ code: TftpErrorCode.IllegalOperation });
  });

  it("leaves a request beyond maxTransfers unanswered and serves its repeat once a slot frees", async () => {
    // Retransmission timers that run only when the test says: the silent client holds the one
    // slot for exactly as long as the test wants.
    let clock = 0;
    let due: Array<{ run: () => void; ms: number }> = [];
    const timers: TransferTimers = {
      now: () => clock,
      setTimeout: (run, ms) => {
        const timer = { run, ms };
        due.push(timer);
        return timer;
      },
      clearTimeout: (timer) => (due = due.filter((one) => one !== timer)),
    };
    const elapse = () => {
      clock += MAX_RETRANSMIT_INTERVAL_MS;
      const expired = due.filter((timer) => timer.ms <= MAX_RETRANSMIT_INTERVAL_MS);
      due = due.filter((timer) => !expired.includes(timer));
      for (const timer of expired) timer.run();
    };
    const { server, address, events } = await startServer({ maxTransfers: 1, timers });
    const silent = await silentClient(address);
    await expect.poll(() => server.activeTransfers).toBe(1);
    // tftpGet repeats its request every second, as firmware does.
    const pending = tftpGet(address, "ipxe.efi");
    await expect
      .poll(() => events.some((e) => e.type === "tftp.error" && /^deferred/.test(e.reason)))
      .toBe(true);
    expect(silent.replies.every((reply) => reply.type === "DATA")).toBe(true);
    await expect
      .poll(() => {
        elapse();
        return server.activeTransfers;
      })
      .toBe(0);
    const result = await pending;
    expect(result.error).toBeUndefined();
    expect(sha256(result.data)).toBe(sha256(content));
    silent.close();
  });

  it("answers a stranger on a transfer port with ERROR unknown transfer ID and carries on", async () => {
    const { address } = await startServer();
    let strangerReply: ReturnType<typeof decodeTftp> | undefined;
    const result = await tftpGet(address, "ipxe.efi", {
      onFirstReply: (_socket, serverPort) => {
        void exchange(
          { address: address.address, port: serverPort },
          Buffer.from([0, 4, 0, 1]),
        ).then((reply) => (strangerReply = reply));
      },
    });
    expect(sha256(result.data)).toBe(sha256(content));
    await expect
      .poll(() => strangerReply)
      .toMatchObject({
        type: "ERROR",
        code: TftpErrorCode.UnknownTransferId,
      });
  });

  it("keeps a transfer going when a stranger sends its port the ERROR that ends one", async () => {
    const { address, events } = await startServer();
    const result = await tftpGet(address, "ipxe.efi", {
      onFirstReply: (_socket, serverPort) => {
        // edk2's abort (PROBE_ABORT), from another port: only the transfer's client may end it.
        void exchange({ address: address.address, port: serverPort }, PROBE_ABORT);
      },
    });
    expect(result.error).toBeUndefined();
    expect(sha256(result.data)).toBe(sha256(content));
    // The server's end comes with the client's last ACK, after the client has every byte.
    await expect.poll(() => events.filter((event) => event.type === "tftp.end")).toHaveLength(1);
    expect(events.filter((event) => event.type === "tftp.error")).toEqual([]);
  });

  it("close() aborts transfers in progress with an ERROR and releases them", async () => {
    const { server, address, events } = await startServer();
    const silent = await silentClient(address);
    const { replies } = silent;
    await expect.poll(() => server.activeTransfers).toBe(1);
    await server.close();
    expect(server.activeTransfers).toBe(0);
    await expect
      .poll(() => replies.at(-1))
      .toMatchObject({ type: "ERROR", message: "server shutting down" });
    expect(events.at(-1)).toMatchObject({ type: "tftp.error", reason: "server shutting down" });
    silent.close();
  });

  it("gives up on a silent client after its retransmissions", async () => {
    const { server, address, events } = await startServer({ timeoutMs: 20, maxRetransmits: 2 });
    const silent = await silentClient(address);
    const dataPackets = () => silent.replies.filter((reply) => reply.type === "DATA").length;
    await expect.poll(() => events.at(-1)?.type).toBe("tftp.error");
    await expect.poll(() => server.activeTransfers).toBe(0);
    // The first DATA and two retransmissions (the last may still be in the socket's queue).
    await expect.poll(dataPackets).toBe(3);
    silent.close();
  });

  it("answers with short fixed texts that never repeat the requested name or mode", async () => {
    const { address, events } = await startServer();
    // Quotes and control bytes: JSON-escaped, each grew to 6 bytes in the old reply.
    const hostileName = '"\u0001'.repeat(704);
    const cases = [
      { filename: hostileName, mode: "octet", message: "file not found" },
      { filename: `../${hostileName}`, mode: "octet", message: "access violation" },
      { filename: "ipxe.efi", mode: "x".repeat(1400), message: "only octet mode is served" },
    ];
    for (const { filename, mode, message } of cases) {
      const request = encodeTftp({ type: "RRQ", filename, mode, options: [] });
      expect(request.length).toBeGreaterThan(1400);
      const socket = dgram.createSocket("udp4");
      const reply = await new Promise<Buffer>((resolve) => {
        socket.once("message", resolve);
        socket.send(request, address.port, address.address);
      });
      socket.close();
      expect(decodeTftp(reply)).toMatchObject({ type: "ERROR", message });
      expect(reply.length).toBeLessThanOrEqual(MAX_ERROR_REPLY_BYTES);
    }
    // The details still reach the operator.
    expect(events.filter((e) => e.type === "tftp.error" && e.file === hostileName)).toHaveLength(1);
  });

  it("refuses transfers to one address beyond its cap while another address is served", async () => {
    const { server, address, events } = await startServer({
      address: "0.0.0.0",
      maxTransfersPerAddress: 2,
    });
    const local = { address: "127.0.0.1", port: address.port };
    const holders = [await silentClient(local), await silentClient(local)];
    await expect.poll(() => server.activeTransfers).toBe(2);
    const third = await tftpGet(local, "ipxe.efi");
    expect(third.error).toMatchObject({ code: 0, message: "server busy, try again later" });
    expect(events.at(-1)).toMatchObject({
      type: "tftp.error",
      reason: expect.stringContaining("limit 2 per address"),
    });
    // Another address of the loopback network is a different client.
    const other = await tftpGet(local, "ipxe.efi", { bindAddress: "127.0.0.2" });
    expect(sha256(other.data)).toBe(sha256(content));
    for (const holder of holders) holder.close();
  });

  it("serves what an injected file source returns, telling it the peer", async () => {
    const asked: Array<{ path: string; peer: TftpPeer }> = [];
    const bytes = Buffer.from("from memory");
    const source: TftpFileSource = async (requested, peer) => {
      asked.push({ path: requested, peer });
      if (requested !== "menu.ipxe") throw new PathRefusedError(requested, "unknown", true);
      return {
        size: bytes.length,
        read: async (position, length) => bytes.subarray(position, position + length),
        close: async () => undefined,
      };
    };
    const server = new TftpServer({ source, address: "127.0.0.1", port: 0 });
    servers.push(server);
    const address = await server.start();
    expect((await tftpGet(address, "menu.ipxe")).data.toString()).toBe("from memory");
    expect((await tftpGet(address, "ipxe.efi")).error).toMatchObject({
      code: TftpErrorCode.FileNotFound,
    });
    expect(asked[0]).toMatchObject({ path: "menu.ipxe", peer: { address: "127.0.0.1" } });
    expect(asked[0]?.peer.port).toBeGreaterThan(0);
  });

  it("refuses to start on a missing root or a port in use, saying how to fix it", async () => {
    await expect(
      new TftpServer({ root: path.join(root, "nope"), port: 0 }).start(),
    ).rejects.toThrow(ConfigError);
    const { address } = await startServer();
    const second = new TftpServer({ root, address: "127.0.0.1", port: address.port });
    await expect(second.start()).rejects.toThrow(/already uses it/);
  });
});

/**
 * A client driven step by step from one socket (one address and port), as a flaky network or a
 * firmware repeating itself drives the server. Replies are kept with the port they came from.
 */
async function scriptedClient(address: TftpServerAddress) {
  const socket = dgram.createSocket("udp4");
  const replies: Array<{ packet: ReturnType<typeof decodeTftp>; port: number }> = [];
  socket.on("message", (bytes, from) =>
    replies.push({ packet: decodeTftp(bytes), port: from.port }),
  );
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    replies,
    send: (bytes: Buffer, port = address.port) =>
      new Promise<void>((resolve) => socket.send(bytes, port, address.address, () => resolve())),
    close: () => socket.close(),
  };
}

/** edk2's size probe of ipxe.efi as captured from OVMF: tsize 0, blksize 1468, windowsize 4. */
const [PROBE] = (await capturedRequests("ovmf-rrq.hex")) as [Buffer];
/** How edk2 ends its probe: ERROR 8 (EFI_MTFTP4_ERRORCODE_REQUEST_DENIED). */
const PROBE_ABORT = encodeTftp({ type: "ERROR", code: 8, message: "User aborted the transfer" });
const WRITE_REQUEST = encodeTftp({ type: "WRQ", filename: "x", mode: "octet", options: [] });

describe("TftpServer and requests a flaky network repeats", () => {
  /**
   * The listening socket handles datagrams in order and opens a transfer synchronously, so once
   * the reply to a WRQ sent after `bytes` is back, `bytes` has been handled.
   */
  async function handled(client: Awaited<ReturnType<typeof scriptedClient>>, count: number) {
    await client.send(WRITE_REQUEST);
    await expect
      .poll(() => client.replies.filter((r) => r.packet.type === "ERROR").length)
      .toBe(count);
  }

  it("takes a request repeated after the client ended its size probe with ERROR 8 for a repeat, not a new transfer", async () => {
    const { server, address, events } = await startServer();
    const client = await scriptedClient(address);
    await client.send(PROBE);
    await expect.poll(() => client.replies[0]?.packet.type).toBe("OACK");
    await client.send(PROBE_ABORT, client.replies[0]?.port);
    await expect.poll(() => server.activeTransfers).toBe(0);
    // The repeat the firmware sent before the OACK reached it, arriving late.
    await client.send(PROBE);
    await handled(client, 1);
    expect(server.activeTransfers).toBe(0);
    expect(events.filter((event) => event.type === "tftp.start")).toHaveLength(1);
    expect(events.at(-2)).toMatchObject({
      type: "tftp.error",
      reason: expect.stringMatching(/repeat/),
    });
    expect(client.replies.filter((r) => r.packet.type === "OACK")).toHaveLength(1);
    client.close();
  });

  it("takes a request repeated after a completed transfer for a repeat, but serves another request from that port", async () => {
    const { server, address, events } = await startServer();
    const client = await scriptedClient(address);
    const request = encodeTftp({ type: "RRQ", filename: "exact.bin", mode: "octet", options: [] });
    await client.send(request);
    for (let block = 1; block <= 5; block++) {
      await expect.poll(() => client.replies.length).toBe(block);
      expect(client.replies[block - 1]?.packet).toMatchObject({ type: "DATA", block });
      await client.send(encodeTftp({ type: "ACK", block }), client.replies[0]?.port);
    }
    await expect.poll(() => server.activeTransfers).toBe(0);
    await client.send(request);
    await handled(client, 1);
    expect(server.activeTransfers).toBe(0);
    // A different request from the same port is a new read: the window is for repeats only.
    await client.send(
      encodeTftp({ type: "RRQ", filename: "ipxe.efi", mode: "octet", options: [] }),
    );
    await expect.poll(() => events.filter((event) => event.type === "tftp.start").length).toBe(2);
    client.close();
  });

  it("serves the same request from another port of the same address at once: that is another client", async () => {
    const { address, events } = await startServer();
    const first = await scriptedClient(address);
    await first.send(PROBE);
    await expect.poll(() => first.replies[0]?.packet.type).toBe("OACK");
    await first.send(PROBE_ABORT, first.replies[0]?.port);
    const second = await scriptedClient(address);
    await second.send(PROBE);
    await expect.poll(() => second.replies[0]?.packet.type).toBe("OACK");
    expect(events.filter((event) => event.type === "tftp.start")).toHaveLength(2);
    first.close();
    second.close();
  });

  it("resends its first reply when the client repeats the request, once per interval, and keeps one transfer", async () => {
    // A minute's timeout: every OACK after the first can only be an answer to a repeat.
    const { server, address, events } = await startServer({ timeoutMs: 60_000 });
    const client = await scriptedClient(address);
    await client.send(PROBE);
    await expect.poll(() => client.replies.length).toBe(1);
    await client.send(PROBE);
    await client.send(PROBE);
    await expect.poll(() => client.replies.length).toBe(2);
    await handled(client, 1);
    expect(client.replies.map((r) => r.packet.type)).toEqual(["OACK", "OACK", "ERROR"]);
    expect(client.replies[1]?.port).toBe(client.replies[0]?.port);
    expect(server.activeTransfers).toBe(1);
    expect(events.filter((event) => event.type === "tftp.start")).toHaveLength(1);
    client.close();
  });

  it("frees a transfer's slot when it ends, not when its file is closed (a busy thread pool)", async () => {
    // close() of a file waits in libuv's thread pool behind other reads: here, until the end.
    const bytes = Buffer.from("first stage");
    const pendingCloses: Array<() => void> = [];
    const source: TftpFileSource = async () => ({
      size: bytes.length,
      read: async (position, length) => bytes.subarray(position, position + length),
      close: () => new Promise<void>((resolve) => pendingCloses.push(resolve)),
    });
    const server = new TftpServer({ source, address: "127.0.0.1", port: 0, maxTransfers: 1 });
    const address = await server.start();
    const first = await tftpGet(address, "ipxe.efi");
    expect(first.data.toString()).toBe("first stage");
    await expect.poll(() => server.activeTransfers).toBe(0);
    const second = await tftpGet(address, "ipxe.efi");
    expect(second.error).toBeUndefined();
    expect(second.data.toString()).toBe("first stage");
    await expect.poll(() => pendingCloses.length).toBe(2);
    for (const close of pendingCloses) close();
    await server.close();
  });

  it("releases the slot of a transfer whose first reply is never acknowledged after few retransmissions", async () => {
    const { server, address, events } = await startServer({ timeoutMs: 20 });
    const silent = await silentClient(address);
    await expect.poll(() => events.at(-1)?.type).toBe("tftp.error");
    expect(events.at(-1)).toMatchObject({
      reason: expect.stringMatching(/after 2 retransmissions/),
    });
    await expect.poll(() => server.activeTransfers).toBe(0);
    silent.close();
  });
});
