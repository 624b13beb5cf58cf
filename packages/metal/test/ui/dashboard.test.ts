import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import { NetbootEvents } from "netboot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixture, type Fixture } from "../helpers.js";
import type { DashboardSnapshot } from "../../src/ui/dashboard-model.js";
import {
  registerDashboard,
  startDashboard,
  type RunningDashboard,
} from "../../src/ui/dashboard.js";
import type { DashboardDeployEvent } from "../../src/ui/deploy-view.js";
import { EventFeed } from "../../src/ui/event-feed.js";
import type { InstallEvents } from "../../src/ui/install-events.js";
import {
  installEventsOver,
  loadRecording,
  replay,
  replayStep,
  type Recording,
} from "./support/replay.js";
import { UnknownMachines } from "../../src/boot/unknown-machines.js";

const HEARTBEAT_MS = 100;

describe("the dashboard server", () => {
  let env: Fixture;
  let recording: Recording;
  let dashboard: RunningDashboard;
  const netbootEvents = new NetbootEvents();
  let events: InstallEvents;
  const deployEvents = new EventFeed<DashboardDeployEvent>();

  let unknownMachines: UnknownMachines;

  beforeEach(async () => {
    env = await fixture();
    unknownMachines = new UnknownMachines();
    // The recording is replayed now: the store stamps its events with the real time.
    Object.defineProperty(env, "now", { get: () => Date.now() });
    recording = await loadRecording();
    events = installEventsOver(env.inventory, { store: env.store, netbootEvents, unknownMachines });
    dashboard = await startDashboard({
      port: 0,
      inventory: env.inventory,
      store: env.store,
      events,
      unknownMachines,
      deployEvents,
      heartbeatMs: HEARTBEAT_MS,
    });
  });

  afterEach(async () => {
    await dashboard.close();
    events.close();
    await env.cleanup();
  });

  const targets = () => ({ store: env.store, netbootEvents, events, unknownMachines });
  const snapshot = async () =>
    (await (await fetch(new URL("api/snapshot", dashboard.url))).json()) as DashboardSnapshot;

  it("listens on 127.0.0.1 unless told otherwise", () => {
    expect(new URL(dashboard.url).hostname).toBe("127.0.0.1");
  });

  it("serves the page, its script and style sheet from the package", async () => {
    const page = await fetch(dashboard.url);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<script type="module" src="dashboard.js">');
    const script = await fetch(new URL("dashboard.js", dashboard.url));
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    const css = await fetch(new URL("dashboard.css", dashboard.url));
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
  });

  it("builds each host's card from the recorded install, with the likely fix for a failure", async () => {
    await replay(recording.phases.start, targets());
    await replay(recording.phases.finish, targets());
    const view = await snapshot();
    expect(view.hosts.map((host) => [host.name, host.phase])).toEqual([
      ["node1", "ready"],
      ["node2", "ready"],
      ["node3", "failed"],
    ]);
    const node1 = view.hosts[0]!;
    const lines = node1.timeline.map((entry) => entry.text);
    expect(lines).toContain("Wake-on-LAN sent to 10.77.0.255:9");
    expect(lines.some((line) => line.includes("uefi-x64 boots ipxe.efi"))).toBe(true);
    expect(lines.some((line) => line.startsWith("TFTP 10.77.0.101 finished ipxe.efi"))).toBe(true);
    expect(
      lines.some((line) => line.startsWith("installer called back from 10.77.0.101: uefi")),
    ).toBe(true);
    expect(node1.downloads.map((download) => [download.state, download.bytes])).toEqual([
      ["done", 9_437_184],
      ["done", 31_457_280],
    ]);
    expect(node1.logTail.at(-1)).toBe("installation finished!");
    const node3 = view.hosts[2]!;
    expect(node3.failure?.reason).toContain("/dev/vda");
    expect(node3.hints.map((hint) => hint.id)).toEqual(["disk-mismatch"]);
    expect(view.unknownMachines.map((machine) => machine.mac)).toEqual(["52:54:00:77:00:99"]);
    expect(view.unknownMachines[0]!.snippet).toContain('mac = "52:54:00:77:00:99"');
  });

  it("streams a snapshot first, then one update per change", async () => {
    const controller = new AbortController();
    const response = await fetch(new URL("events", dashboard.url), { signal: controller.signal });
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) text += (await reader.read()).value ?? "";
    };
    await readUntil(/event: snapshot\ndata: .*\n\n/);
    expect(text.startsWith("retry: ")).toBe(true);
    await replayStep(recording.phases.start[0]!, targets());
    await readUntil(/event: host\ndata: .*"phase":"waking".*\n\n/);
    await readUntil(/\n: heartbeat\n\n/);
    controller.abort();
  });

  it("answers HEAD of the event stream at once, with its headers and no stream", async () => {
    const response = await fetch(new URL("events", dashboard.url), { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  });

  it("shows a deploy's plan and each node's progress", async () => {
    const time = Date.now();
    deployEvents.emit({
      type: "deploy.plan",
      time,
      deployId: "d1",
      batches: [["node1"], ["node2", "node3"]],
      skipped: [],
      dryRun: false,
    });
    deployEvents.emit({
      type: "deploy.step",
      time,
      host: "node1",
      step: "drain",
      status: "start",
      detail: "evicting 3 pods",
    });
    deployEvents.emit({ type: "deploy.host.done", time, host: "node1" });
    deployEvents.emit({
      type: "deploy.failed",
      time,
      host: "node2",
      step: "activate",
      error: "switch-to-configuration failed",
      recovery: ["fix the configuration", "run metal deploy again"],
    });
    const view = await snapshot();
    expect(view.deploy?.nodes.map((node) => [node.host, node.batch, node.status])).toEqual([
      ["node1", 1, "done"],
      ["node2", 2, "failed"],
      ["node3", 2, "waiting"],
    ]);
    const metrics = await (await fetch(new URL("metrics", dashboard.url))).text();
    expect(metrics).toContain('metal_deploy_steps_total{step="drain",status="start"} 1');
    expect(metrics).toContain('metal_deploy_steps_total{step="activate",status="failed"} 1');
  });

  it("counts the recorded install in /metrics", async () => {
    await replay(recording.phases.start, targets());
    await replay(recording.phases.finish, targets());
    const response = await fetch(new URL("metrics", dashboard.url));
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('metal_hosts{phase="ready"} 2');
    expect(text).toContain('metal_hosts{phase="failed"} 1');
    expect(text).toContain(
      'metal_dhcp_replies_total{message="ACK",port="4011",firmware="uefi-x64"} 1',
    );
    expect(text).toContain('metal_tftp_transfers_total{outcome="completed"} 1');
    expect(text).toContain("metal_tftp_bytes_total 1030144");
    expect(text).toContain("metal_wol_sent_total 3");
    expect(text).toContain("metal_install_duration_seconds_count 2");
  });

  it("shows only the deploy when it has no install state (metal deploy --dashboard)", async () => {
    const feed = new EventFeed<DashboardDeployEvent>();
    const deployOnly = await startDashboard({
      port: 0,
      inventory: env.inventory,
      deployEvents: feed,
    });
    try {
      feed.emit({
        type: "deploy.plan",
        time: Date.now(),
        deployId: "d2",
        batches: [["node2"]],
        skipped: ["node1"],
        dryRun: true,
      });
      const view = (await (
        await fetch(new URL("api/snapshot", deployOnly.url))
      ).json()) as DashboardSnapshot;
      expect(view.hosts).toEqual([]);
      expect(view.deploy?.nodes.map((node) => [node.host, node.status])).toEqual([
        ["node2", "waiting"],
        ["node1", "skipped"],
      ]);
      const metrics = await (await fetch(new URL("metrics", deployOnly.url))).text();
      expect(metrics).not.toMatch(/^metal_hosts\{/m);
    } finally {
      await deployOnly.close();
    }
  });
});

describe("the dashboard as a plugin", () => {
  it("mounts under a prefix on another app, the page at PREFIX/ with its feed beside it", async () => {
    const env = await fixture();
    const app = Fastify();
    try {
      await registerDashboard(app, {
        prefix: "/dashboard",
        inventory: env.inventory,
        store: env.store,
      });
      // A real listener: the dashboard checks the Host header against the address it was reached on.
      await app.listen({ host: "127.0.0.1", port: 0 });
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const get = (path: string) => fetch(`${base}${path}`, { redirect: "manual" });
      const page = await get("/dashboard/");
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      const bare = await get("/dashboard");
      expect([bare.status, bare.headers.get("location")]).toEqual([302, "/dashboard/"]);
      expect((await get("/dashboard/dashboard.js")).status).toBe(200);
      expect(await (await get("/dashboard/metrics")).text()).toContain("metal_hosts");
      expect((await get("/")).status).toBe(404);
    } finally {
      await app.close();
      await env.cleanup();
    }
  });
});
