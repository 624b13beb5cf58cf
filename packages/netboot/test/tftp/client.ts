/**
 * A minimal TFTP read client for tests (RFC 1350 + OACK + RFC 7440 windows), built on the
 * library's own codec. Real clients (atftp, tftp-hpa, curl) are exercised in the netns tests.
 */
import dgram from "node:dgram";
import { decodeTftp } from "../../src/tftp/decode.js";
import { encodeAck, encodeTftp } from "../../src/tftp/encode.js";
import type { TftpOption } from "../../src/tftp/packet.js";

const REQUEST_RETRY_MS = 1000;

export interface GetResult {
  readonly data: Buffer;
  readonly oack: readonly TftpOption[] | undefined;
  readonly error: { readonly code: number; readonly message: string } | undefined;
  /** The server's transfer ID (its ephemeral port). */
  readonly serverPort: number | undefined;
}

export interface GetOptions {
  readonly options?: readonly TftpOption[];
  readonly mode?: string;
  readonly timeoutMs?: number;
  /** Local address to send from. Default 127.0.0.1. */
  readonly bindAddress?: string;
  /** Called with the client socket and the server's TID once the first reply arrives. */
  readonly onFirstReply?: (socket: dgram.Socket, serverPort: number) => void;
}

export function tftpGet(
  server: { address: string; port: number },
  filename: string,
  options: GetOptions = {},
): Promise<GetResult> {
  const socket = dgram.createSocket("udp4");
  return new Promise<GetResult>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let serverPort: number | undefined;
    let oack: TftpOption[] | undefined;
    let blockSize = 512;
    let windowSize = 1;
    let expected = 1;
    let inWindow = 0;
    const timer = setTimeout(
      () => finish(new Error(`no answer for ${filename}`)),
      options.timeoutMs ?? 10_000,
    );
    let settled = false;
    const finish = (outcome: GetResult | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const send = (bytes: Buffer, then?: () => void) =>
      socket.send(bytes, serverPort, server.address, () => then?.());
    socket.on("message", (bytes, from) => {
      if (serverPort === undefined) {
        serverPort = from.port;
        options.onFirstReply?.(socket, from.port);
      }
      if (from.port !== serverPort) return;
      const packet = decodeTftp(bytes);
      if (packet.type === "ERROR") {
        finish({ data: Buffer.concat(chunks), oack, error: packet, serverPort });
      } else if (packet.type === "OACK") {
        oack = [...packet.options];
        for (const { name, value } of packet.options) {
          if (name.toLowerCase() === "blksize") blockSize = Number(value);
          if (name.toLowerCase() === "windowsize") windowSize = Number(value);
        }
        send(encodeAck(0));
      } else if (packet.type === "DATA") {
        if (packet.block !== expected) {
          send(encodeAck((expected + 0xffff) & 0xffff));
          inWindow = 0;
          return;
        }
        chunks.push(Buffer.from(packet.data));
        expected = (expected + 1) & 0xffff;
        inWindow++;
        const last = packet.data.length < blockSize;
        if (last) {
          // Close only once the final ACK is out, or the server retransmits into the void.
          const result = { data: Buffer.concat(chunks), oack, error: undefined, serverPort };
          send(encodeAck(packet.block), () => finish(result));
        } else if (inWindow === windowSize) {
          send(encodeAck(packet.block));
          inWindow = 0;
        }
      }
    });
    const request = encodeTftp({
      type: "RRQ",
      filename,
      mode: options.mode ?? "octet",
      options: options.options ?? [],
    });
    // Like real clients, repeat the request until the server answers.
    const repeat = setInterval(() => {
      if (serverPort === undefined) socket.send(request, server.port, server.address);
    }, REQUEST_RETRY_MS);
    socket.on("close", () => clearInterval(repeat));
    socket.bind(0, options.bindAddress ?? "127.0.0.1", () =>
      socket.send(request, server.port, server.address),
    );
  });
}
