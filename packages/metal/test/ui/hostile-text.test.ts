/**
 * Text that machines on the LAN choose (TFTP file names, DHCP vendor and user class, HTTP paths,
 * install output) sent hostile to every view: terminal table, plain lines, JSON view, the JSON
 * event log and the dashboard (snapshot and live feed).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { NetbootEvents, type NetbootEvent } from "netboot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonView, LiveView, openEventLog, PlainView } from "../../src/install/progress.js";
import { toProgressEvent } from "../../src/install/progress-events.js";
import type { ProgressEvent } from "../../src/install/progress.js";
import { HostContext } from "../../src/ui/host-context.js";
import { startDashboard, type RunningDashboard } from "../../src/ui/dashboard.js";
import { escapeControl } from "../../src/ui/escape.js";
import { InstallEvents } from "../../src/ui/install-events.js";
import { fixture, type Fixture } from "../helpers.js";
import { capture, NODE1_PEER, tftpFromNode1 } from "./support/node1-tftp.js";

/** Clear screen, retitle the window, a C1 CSI, a forged log line, a right-to-left override. */
const HOSTILE = "boot\x1b[2J\x1b]0;pwned\x07\x9b31m\nINFO: node2 ready\u202egnp.exe";
/** Any raw control or bidi code point except the newline that ends each line a view writes. */
// eslint-disable-next-line no-control-regex -- looking for raw control characters
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u;
/** node1 naming everything it may choose hostile; then a failed TFTP read and an HTTP file. */
function hostileEvents(time: number): NetbootEvent[] {
  return [
    ...tftpFromNode1(time, {
      vendorClass: `PXEClient${HOSTILE}`,
      userClass: HOSTILE,
      file: HOSTILE,
    }),
    { type: "tftp.error", time, peer: NODE1_PEER, file: HOSTILE, reason: `no file ${HOSTILE}` },
    {
      type: "http.file.start",
      time,
      mac: undefined,
      peer: NODE1_PEER,
      path: `/files/${HOSTILE}`,
      bytes: 1,
      size: 1,
    },
  ];
}

describe("escaping control characters", () => {
  it("makes ESC, C0, C1 and bidi overrides visible and keeps everything else", () => {
    expect(escapeControl("a\x1b[2Jb\x9bc\u202ed\ne\tf ✓ é")).toBe(
      "a\\x1b[2Jb\\x9bc\\u202ed\\x0ae\\x09f ✓ é",
    );
  });
});

describe("every view, fed hostile client-supplied text", () => {
  let env: Fixture;
  beforeEach(async () => {
    env = await fixture();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  const progressEvents = () => {
    const netbootEvents = new NetbootEvents();
    const events = new InstallEvents({
      labels: new HostContext(env.inventory, env.store),
      netbootEvents,
    });
    const shown: ProgressEvent[] = [];
    events.on((event) => shown.push(toProgressEvent(event)!));
    for (const event of hostileEvents(Date.now())) netbootEvents.emit(event);
    events.close();
    return shown;
  };

  it("terminal table, plain lines and JSON view show it escaped", () => {
    const plain = capture();
    const json = capture();
    const live = capture();
    const views = [
      new PlainView(plain.stream),
      new JsonView(json.stream),
      new LiveView(
        live.stream as unknown as NodeJS.WriteStream,
        [{ name: "node1", phase: "pxe", step: "" }],
        Date.now(),
      ),
    ];
    for (const event of [
      ...progressEvents(),
      { ...progressEvents()[0]!, kind: "output" as const, message: HOSTILE },
      { ...progressEvents()[0]!, host: undefined, level: "warn" as const, message: HOSTILE },
    ])
      for (const view of views) view.show(event);
    for (const view of views) view.close();
    expect(plain.text()).toContain(
      "boot\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\x0aINFO: node2 ready\\u202egnp.exe",
    );
    expect(plain.text()).not.toMatch(RAW);
    // One labeller for every view: the TFTP line names its host (learnt from the 4011 REQUEST).
    expect(plain.text()).toMatch(/ node1 \[pending\] TFTP 10\.77\.0\.101 started boot/);
    // One line per event shown: the forged "INFO: node2 ready" is not a line of its own.
    expect(
      plain
        .text()
        .split("\n")
        .filter((line) => line.startsWith("INFO")),
    ).toEqual([]);
    expect(json.text()).toContain("\\\\x1b[2J");
    expect(json.text()).not.toMatch(/\\u001b|\\n|[\x80-\x9f\u202e]/u);
    // The table's own cursor movements are the only escape sequences on the terminal.
    // eslint-disable-next-line no-control-regex -- the table's own CSI sequences
    const ownSequences = /\x1b\[\d+A\x1b\[0J/g;
    expect(live.text().replace(ownSequences, "")).not.toMatch(RAW);
    expect(live.text()).toContain("\\x1b]0;pwned");
  });

  it("the JSON event log writes it escaped", async () => {
    const log = openEventLog(env.directory);
    for (const event of progressEvents()) log.log(event);
    await log.close();
    const file = await readFile(join(env.directory, "logs", "install.jsonl"), "utf8");
    expect(file).toContain("\\\\x1b[2J");
    expect(file).not.toMatch(/\\u001b|[\x80-\x9f\u202e]/u);
  });

  describe("the dashboard", () => {
    let dashboard: RunningDashboard;
    const netbootEvents = new NetbootEvents();
    let events: InstallEvents;
    beforeEach(async () => {
      events = new InstallEvents({
        labels: new HostContext(env.inventory, env.store),
        netbootEvents,
        store: env.store,
      });
      dashboard = await startDashboard({
        port: 0,
        inventory: env.inventory,
        store: env.store,
        events,
        stream: { coalesceMs: 5 },
      });
    });
    afterEach(async () => {
      await dashboard.close();
      events.close();
    });

    it("sends it escaped in the snapshot and the live feed", async () => {
      const controller = new AbortController();
      const response = await fetch(new URL("events", dashboard.url), {
        signal: controller.signal,
      });
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      const readUntil = async (pattern: RegExp) => {
        while (!pattern.test(text)) {
          const chunk = await reader.read();
          if (chunk.done) throw new Error(`stream ended before ${pattern}: ${text}`);
          text += chunk.value;
        }
      };
      await readUntil(/event: snapshot\n/);
      for (const event of hostileEvents(Date.now())) netbootEvents.emit(event);
      events.output("node1", HOSTILE);
      await readUntil(/"logTail":\["boot/);
      controller.abort();
      expect(text).toContain("\\\\x1b[2J");
      expect(text).not.toMatch(/\\u001b|\\u0007|[\x80-\x9f\u202e]/u);

      const snapshot = await (await fetch(new URL("api/snapshot", dashboard.url))).text();
      expect(snapshot).toContain("\\\\x9b31m");
      expect(snapshot).not.toMatch(/\\u001b|\\u0007|[\x80-\x9f\u202e]/u);
    });
  });
});
