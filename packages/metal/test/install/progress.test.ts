import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { JsonView, LiveView, PlainView, type ProgressEvent } from "../../src/install/progress.js";

const START = Date.UTC(2026, 10, 25, 1, 0, 0);

function event(partial: Partial<ProgressEvent>): ProgressEvent {
  return {
    time: START + 65_000,
    kind: "phase",
    level: "info",
    host: "node1",
    mac: "52:54:00:77:00:01",
    phase: "installer",
    message: "installer called back from 10.77.0.130; SSH host key pinned",
    ...partial,
  };
}

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  return { stream, text: () => chunks.join("") };
}

describe("progress views", () => {
  it("plain view: one line per event with time, host and phase; install output and debug stay out", () => {
    const out = capture();
    const view = new PlainView(out.stream);
    view.show(event({}));
    view.show(event({ kind: "output", message: "copying store paths" }));
    view.show(event({ kind: "netboot", level: "debug", message: "DHCP DISCOVER" }));
    view.show(
      event({
        host: undefined,
        mac: undefined,
        phase: undefined,
        kind: "server",
        message: "serving",
      }),
    );
    expect(out.text()).toBe(
      "01:01:05 node1 [installer] installer called back from 10.77.0.130; SSH host key pinned\n" +
        "01:01:05 metal serving\n",
    );
  });

  it("JSON view: one object per event carrying host, MAC and phase", () => {
    const out = capture();
    const view = new JsonView(out.stream);
    view.show(event({}));
    view.close();
    const line = JSON.parse(out.text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({
      host: "node1",
      mac: "52:54:00:77:00:01",
      phase: "installer",
      kind: "phase",
      msg: "installer called back from 10.77.0.130; SSH host key pinned",
    });
  });

  it("live view: one line per host with phase and last step, redrawn in place", () => {
    const out = capture();
    const view = new LiveView(
      out.stream as unknown as NodeJS.WriteStream,
      [
        { name: "node1", phase: "waking", step: "Wake-on-LAN sent" },
        { name: "node2", phase: "ready", step: "first boot called back" },
      ],
      Date.now(),
    );
    view.show(event({ kind: "output", message: "writing 23 MiB" }));
    view.close();
    const text = out.text();
    expect(text).toMatch(/node1\s+waking\s+0s\s+Wake-on-LAN sent\n/);
    // The second drawing moves the cursor up over the two lines of the first.
    expect(text).toContain("\x1b[2A\x1b[0J");
    expect(text).toMatch(
      /node1\s+installer\s+\d+s\s+writing 23 MiB\nnode2\s+ready\s+0s\s+first boot called back\n$/,
    );
  });
});
