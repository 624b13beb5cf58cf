/**
 * Line-by-line reading of a child process's output: the lab's helpers and the tests talk to
 * the processes they start (servers in namespaces, tshark, dnsmasq) in text or JSON lines.
 */
import type { Readable } from "node:stream";

/** Calls `onLine` with each complete line (without its newline) that `stream` produces. */
export function onLines(stream: Readable | null | undefined, onLine: (line: string) => void): void {
  if (!stream) return;
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  });
}
