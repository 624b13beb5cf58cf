import { PassThrough } from "node:stream";
import { UnknownMachines } from "../../src/boot/unknown-machines.js";
import { NetbootEvents } from "netboot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixture, type Fixture } from "../helpers.js";
import { createHostLogger } from "../../src/ui/host-log.js";
import { installEventsOver, loadRecording, replay } from "./support/replay.js";

interface JsonLine {
  readonly level: number;
  readonly msg: string;
  readonly host?: string;
  readonly mac?: string;
  readonly phase?: string;
}

function collect(stream: PassThrough): () => string[] {
  const chunks: string[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
  return () => chunks.join("").split("\n").filter(Boolean);
}

describe("the host logger", () => {
  let env: Fixture;
  beforeEach(async () => {
    env = await fixture();
  });
  afterEach(() => env.cleanup());

  async function replayInto(destination: PassThrough): Promise<void> {
    const netbootEvents = new NetbootEvents();
    const logger = createHostLogger({
      inventory: env.inventory,
      store: env.store,
      json: false,
      verbose: true,
      destination,
    });
    const detach = logger.attach({ netbootEvents, store: env.store });
    const recording = await loadRecording();
    const sources = { store: env.store, netbootEvents, unknownMachines: new UnknownMachines() };
    const events = installEventsOver(env.inventory, sources);
    await replay([...recording.phases.start, ...recording.phases.finish], { ...sources, events });
    events.close();
    detach();
  }

  it("writes JSON lines off a terminal, each naming the host, its MAC and its phase", async () => {
    const destination = new PassThrough();
    const lines = collect(destination);
    await replayInto(destination);
    const parsed = lines().map((line) => JSON.parse(line) as JsonLine);
    const about = parsed.filter((line) => line.mac !== undefined);
    expect(about.length).toBeGreaterThan(30);
    for (const line of about) expect(line.host, line.msg).toBeDefined();
    const known = about.filter((line) => line.host !== "unknown");
    for (const line of known) expect(line.phase, line.msg).toBeDefined();
    expect(parsed.find((line) => line.msg.startsWith("TFTP 10.77.0.101 finished"))).toMatchObject({
      host: "node1",
      mac: "52:54:00:77:00:01",
      phase: "pxe",
    });
    expect(parsed.find((line) => line.msg.startsWith("pxe → failed"))).toMatchObject({
      host: "node3",
      phase: "failed",
      level: 50,
    });
    expect(parsed.find((line) => line.mac === "52:54:00:77:00:99")?.host).toBe("unknown");
  });

  it("writes readable lines on a terminal, led by host, MAC and phase", async () => {
    const destination = Object.assign(new PassThrough(), { isTTY: true });
    const lines = collect(destination);
    await replayInto(destination);
    const tftp = lines().find((line) => line.includes("TFTP 10.77.0.101 finished"));
    expect(tftp).toMatch(
      /^\[\d\d:\d\d:\d\d\] INFO: node1 52:54:00:77:00:01 \[pxe\] TFTP 10\.77\.0\.101 finished ipxe\.efi/,
    );
    expect(lines().some((line) => line.trimStart().startsWith("{"))).toBe(false);
  });
});
