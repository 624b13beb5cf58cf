/**
 * A test utility: a tiny HTTP server run inside a test namespace (`ip netns exec … node -e`) that answers 200
 * to everything and prints one JSON line per request, so a test can wait for a machine's call.
 */
import { execa, type ResultPromise } from "execa";
import { setTimeout as sleep } from "node:timers/promises";
import { onLines } from "./lines.js";
import type { NetHost } from "./netns.js";

const SERVER_SOURCE = `
const http = require("node:http");
http.createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", () => {
    process.stdout.write(JSON.stringify({ method: request.method, url: request.url, body }) + "\\n");
    response.end("ok\\n");
  });
}).listen(Number(process.argv[1]), "0.0.0.0", () => process.stdout.write("listening\\n"));
`;

export interface Report {
  readonly method: string;
  readonly url: string;
  readonly body: string;
}

export class ReportListener {
  readonly reports: Report[] = [];
  readonly url: string;
  readonly #process: ResultPromise;

  private constructor(url: string, child: ResultPromise) {
    this.url = url;
    this.#process = child;
  }

  static async start(host: NetHost, port: number): Promise<ReportListener> {
    const [file, args] = host.argv(process.execPath, ["-e", SERVER_SOURCE, String(port)]);
    const child = execa(file, args, { reject: false, stdin: "ignore" });
    const listener = new ReportListener(`http://${host.address}:${port}`, child);
    let ready = false;
    onLines(child.stdout, (line) => {
      if (line === "listening") ready = true;
      else if (line) listener.reports.push(JSON.parse(line) as Report);
    });
    while (!ready) await sleep(50);
    return listener;
  }

  /** Waits for a request whose URL matches. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<Report> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const report = this.reports.find((candidate) => pattern.test(candidate.url));
      if (report) return report;
      if (Date.now() > deadline)
        throw new Error(`no request matching ${pattern} within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    this.#process.kill("SIGTERM");
    await this.#process;
  }
}
