/**
 * A user-space UDP relay that holds every packet for a fixed delay in each direction and can
 * drop a share of them: the stand-in for a slow or lossy link (tc netem is not available on our
 * machines), used by the TFTP benchmark and loss tests.
 * It speaks just enough TFTP transfer-ID logic to sit between one client port and a server that
 * answers from ephemeral ports: the client only ever sees the relay's address.
 */
import dgram from "node:dgram";

const DRAIN_MS = 50;

export interface UdpRelay {
  readonly port: number;
  /**
   * When the client's first and latest datagrams reached the relay (`performance.now()`), or
   * undefined before any: the transfer as the wire saw it, from the request to the final ACK,
   * without the client program's start and exit.
   */
  clientActivity(): { readonly first: number; readonly last: number } | undefined;
  close(): Promise<void>;
}

interface Flow {
  readonly upstream: dgram.Socket;
  /** The server's transfer ID once it answered; requests go to its listening port before. */
  serverPort: number | undefined;
}

export interface UdpRelayOptions {
  /** Milliseconds each packet is held, in each direction. */
  readonly delayMs: number;
  /** Share of packets dropped, 0–1, in each direction. Default 0. */
  readonly loss?: number;
  /** Decides drops; inject a seeded one for reproducible runs. Default Math.random. */
  readonly random?: () => number;
}

export async function startUdpRelay(
  target: { address: string; port: number },
  options: UdpRelayOptions,
): Promise<UdpRelay> {
  const { delayMs, loss = 0, random = Math.random } = options;
  const front = dgram.createSocket("udp4");
  const flows = new Map<string, Flow>();
  let closed = false;
  let activity: { first: number; last: number } | undefined;
  const later = (send: () => void) => {
    if (random() < loss) return;
    setTimeout(() => {
      if (!closed) send();
    }, delayMs);
  };
  front.on("message", (bytes, client) => {
    const now = performance.now();
    activity = { first: activity?.first ?? now, last: now };
    const key = `${client.address}:${client.port}`;
    let flow = flows.get(key);
    if (!flow) {
      const upstream = dgram.createSocket("udp4");
      const created: Flow = { upstream, serverPort: undefined };
      upstream.on("message", (reply, from) => {
        created.serverPort = from.port;
        later(() => front.send(reply, client.port, client.address));
      });
      upstream.bind(0, target.address);
      flows.set(key, created);
      flow = created;
    }
    const current = flow;
    later(() => current.upstream.send(bytes, current.serverPort ?? target.port, target.address));
  });
  await new Promise<void>((resolve) => front.bind(0, target.address, resolve));
  return {
    port: front.address().port,
    clientActivity: () => activity,
    close: async () => {
      // Let packets still held (the client's final ACK) reach the server first.
      await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
      closed = true;
      for (const flow of flows.values()) flow.upstream.close();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}
