/**
 * The ports `metal install` serves on, and a probe that tries to bind each one the way the
 * servers will (all addresses), then releases it at once. Binding sends nothing.
 */
import { createSocket } from "node:dgram";
import { createServer } from "node:net";

export const DEFAULT_HTTP_PORT = 8080;

export interface ServicePort {
  readonly port: number;
  readonly protocol: "udp" | "tcp";
  readonly service: string;
}

export function servicePorts(httpPort: number): ServicePort[] {
  return [
    { port: 67, protocol: "udp", service: "proxyDHCP" },
    { port: 69, protocol: "udp", service: "TFTP" },
    { port: 4011, protocol: "udp", service: "PXE boot server (proxyDHCP REQUEST)" },
    { port: httpPort, protocol: "tcp", service: "HTTP (boot files, scripts, callback API)" },
  ];
}

/** undefined when the port could be bound, else the error code (EADDRINUSE, EACCES, …). */
export function probePort(port: ServicePort, address = "0.0.0.0"): Promise<string | undefined> {
  return new Promise((resolve) => {
    const fail = (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message);
    if (port.protocol === "udp") {
      const socket = createSocket("udp4");
      socket.once("error", (error) => {
        socket.close();
        fail(error);
      });
      socket.bind({ port: port.port, address, exclusive: true }, () =>
        socket.close(() => resolve(undefined)),
      );
    } else {
      const server = createServer();
      server.once("error", fail);
      server.listen({ port: port.port, host: address, exclusive: true }, () =>
        server.close(() => resolve(undefined)),
      );
    }
  });
}
