/**
 * The machines' side of the leak test: every request goes out of a network namespace on the
 * lab network, as a PXE machine's would, and every answer (status line, headers, body; DHCP and
 * TFTP payloads) is kept as text to scan. Binary bodies are read as latin1, so any ASCII secret
 * inside them still shows up as a substring.
 */
import { readFile } from "node:fs/promises";
import type { NetHost } from "metal-lab";

/** curl(1) EXIT CODES: 68, "File not found on TFTP server". */
const CURL_TFTP_NOT_FOUND = 68;

const DHCP_PROBE = new URL("./dhcp-probe.entry.ts", import.meta.url).pathname;
const DHCP_SETTLE_MS = 2000;
/** Long enough for a first-stage binary; an event stream is cut off after this and scanned. */
const HTTP_PROBE_SECONDS = 5;
const TFTP_PROBE_SECONDS = 60;

/** One answer as the machine saw it. `status` 0: no answer at all. */
export interface Probe {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly response: string;
}

export interface HttpRequest {
  readonly token?: string;
  readonly body?: string;
}

/** A route as fastify registered it, e.g. `{ methods: ["GET", "HEAD"], url: "/files/:id/:name" }`. */
export interface Route {
  /** `http://ADDRESS:PORT` of the listener that serves it. */
  readonly origin: string;
  readonly methods: readonly string[];
  readonly url: string;
}

export interface DhcpAnswer {
  /** `ipxe@67`: which firmware asked, on which server port. */
  readonly client: string;
  /** Option 67 or the `file` field: a TFTP name or an HTTP URL. */
  readonly bootFile: string;
}

export class MachineSide {
  /** Every answer so far, in order. */
  readonly probes: Probe[] = [];
  readonly #crawled = new Set<string>();

  constructor(
    private readonly machine: NetHost,
    /** Only URLs on this address (any port) are followed. */
    private readonly serverAddress: string,
  ) {}

  async http(method: string, url: string, request: HttpRequest = {}): Promise<Probe> {
    const args = ["-sS", "-i", "--max-time", String(HTTP_PROBE_SECONDS)];
    args.push(...(method === "HEAD" ? ["-I"] : ["-X", method]));
    if (request.token !== undefined) args.push("-H", `Authorization: Bearer ${request.token}`);
    if (request.body !== undefined)
      args.push("-H", "Content-Type: application/json", "--data-binary", request.body);
    const response = await this.#bytes("curl", [...args, url]);
    const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(response.text)?.[1] ?? 0);
    return this.#keep({ method, url, status, response: response.text });
  }

  /** GET and HEAD of `url` and of every URL on this server its body names, recursively. */
  async crawl(url: string): Promise<void> {
    if (this.#crawled.has(url)) return;
    this.#crawled.add(url);
    const got = await this.http("GET", url);
    await this.http("HEAD", url);
    for (const named of urlsOn(this.serverAddress, got.response)) await this.crawl(named);
  }

  /** A first stage over TFTP, as PXE firmware loads it. */
  async tftp(name: string): Promise<Probe> {
    const url = `tftp://${this.serverAddress}/${name}`;
    const response = await this.#bytes("curl", [
      "-sS",
      "--max-time",
      String(TFTP_PROBE_SECONDS),
      url,
    ]);
    return this.#keep({
      method: "TFTP",
      url,
      // curl's 68: the server answered "file not found"; anything else failing is no answer.
      status: response.ok ? 200 : response.exitCode === CURL_TFTP_NOT_FOUND ? 404 : 0,
      response: response.text,
    });
  }

  /**
   * The server's answers to this MAC's DISCOVERs (port 67) and boot server REQUESTs (port 4011)
   * as BIOS, UEFI, UEFI HTTP and iPXE clients.
   */
  async dhcp(mac: string): Promise<DhcpAnswer[]> {
    const config = JSON.stringify({
      mac,
      address: this.machine.address,
      server: this.serverAddress,
      settleMs: DHCP_SETTLE_MS,
    });
    const result = await this.machine.run(process.execPath, [
      "--import",
      "tsx",
      DHCP_PROBE,
      config,
    ]);
    const replies = String(result.stdout)
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as DhcpAnswer & { raw: string });
    for (const reply of replies) {
      this.#keep({
        method: "DHCP",
        url: `${reply.client} from ${mac}`,
        status: 200,
        response: Buffer.from(reply.raw, "base64").toString("latin1"),
      });
    }
    return replies.map(({ client, bootFile }) => ({ client, bootFile }));
  }

  /** Each route with each of its methods that no probe so far has requested. */
  unprobed(routes: readonly Route[]): string[] {
    return routes.flatMap((route) =>
      route.methods
        .filter(
          (method) =>
            !this.probes.some(
              (got) =>
                got.method === method &&
                got.url.startsWith(`${route.origin}/`) &&
                routePattern(route.url).test(new URL(got.url).pathname),
            ),
        )
        .map((method) => `${method} ${route.origin}${route.url}`),
    );
  }

  async #bytes(command: string, args: readonly string[]) {
    const result = await this.machine.run(command, args, { reject: false, encoding: "buffer" });
    return {
      ok: result.exitCode === 0,
      exitCode: result.exitCode,
      text: Buffer.from(result.stdout as Uint8Array).toString("latin1"),
    };
  }

  #keep(probe: Probe): Probe {
    this.probes.push(probe);
    return probe;
  }
}

/** Absolute HTTP URLs on `address` named anywhere in `text` (scripts, event logs, pages). */
export function urlsOn(address: string, text: string): string[] {
  return [...text.matchAll(/http:\/\/[^\s"'<>`()]+/g)]
    .map((match) => match[0].replace(/[.,;:]+$/, ""))
    .filter((url) => URL.canParse(url) && new URL(url).hostname === address);
}

/** fastify's `/files/:id/:name` as a pattern for request paths. */
function routePattern(url: string): RegExp {
  const pattern = url
    .split("/")
    .map((part) =>
      part.startsWith(":")
        ? "[^/]+"
        : part === "*"
          ? ".*"
          : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("/");
  return new RegExp(`^${pattern}/?$`);
}

type RecorderLine =
  | { instance: number; methods: string[]; url: string }
  | { instance: number; address: string; port: number };

/**
 * The routes support/route-recorder.mjs wrote, of the instances that listened; `wildcard`
 * stands for a listener on 0.0.0.0 (the machines reach it there).
 */
export async function servedRoutes(file: string, wildcard: string): Promise<Route[]> {
  const lines = (await readFile(file, "utf8").catch(() => ""))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RecorderLine);
  const origins = new Map<number, string>();
  for (const line of lines) {
    if (!("port" in line)) continue;
    const host = ["0.0.0.0", "::"].includes(line.address) ? wildcard : line.address;
    origins.set(line.instance, `http://${host}:${line.port}`);
  }
  return lines.flatMap((line) => {
    const origin = origins.get(line.instance);
    return "url" in line && origin !== undefined
      ? [{ origin, methods: line.methods, url: line.url }]
      : [];
  });
}

/** "METHOD URL carries the NAME" for every secret found in any probe. */
export function leaksIn(probes: readonly Probe[], secrets: ReadonlyMap<string, string>): string[] {
  return probes.flatMap((probe) =>
    [...secrets]
      .filter(([, value]) => probe.response.includes(value))
      .map(([name]) => `${probe.method} ${probe.url} carries the ${name}`),
  );
}
