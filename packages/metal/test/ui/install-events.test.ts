/**
 * The install's one event stream: the terminal and the dashboard subscribe to the same labelled
 * events, so they name a machine alike and both report a machine outside the inventory.
 */
import { PassThrough } from "node:stream";
import { NetbootEvents, type NetbootEvent } from "netboot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UnknownMachines } from "../../src/boot/unknown-machines.js";
import { toProgressEvent } from "../../src/install/progress-events.js";
import { LiveView, PlainView, type ProgressView } from "../../src/install/progress.js";
import { DashboardModel } from "../../src/ui/dashboard-model.js";
import { HostContext } from "../../src/ui/host-context.js";
import { InstallEvents } from "../../src/ui/install-events.js";
import { fixture, type Fixture } from "../helpers.js";

const NODE1_MAC = "52:54:00:77:00:01";
const NODE1_PEER = "10.77.0.101";
const STRANGER_MAC = "02:00:00:00:00:99";

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  return { stream, text: () => chunks.join("") };
}

/** The 4011 REQUEST that names node1's address, then a TFTP transfer from it (TFTP has no MAC). */
function tftpFromNode1(time: number): NetbootEvent[] {
  return [
    {
      type: "dhcp.request",
      time,
      mac: NODE1_MAC,
      xid: 1,
      message: "REQUEST",
      port: 4011,
      from: NODE1_PEER,
      arch: 7,
      vendorClass: "PXEClient:Arch:00007",
      userClass: undefined,
      isIpxe: false,
      relay: undefined,
    },
    {
      type: "tftp.start",
      time,
      peer: NODE1_PEER,
      file: "ipxe.efi",
      size: 10,
      blksize: 1468,
      windowsize: 1,
    },
  ] as NetbootEvent[];
}

describe("the install's one event stream", () => {
  let env: Fixture;
  let netbootEvents: NetbootEvents;
  let unknownMachines: UnknownMachines;
  let events: InstallEvents;
  let dashboard: DashboardModel;
  let plain: ReturnType<typeof capture>;
  let live: ReturnType<typeof capture>;
  let views: ProgressView[];

  beforeEach(async () => {
    env = await fixture();
    netbootEvents = new NetbootEvents();
    unknownMachines = new UnknownMachines();
    // As the orchestrator wires it: one labeller, one stream, every view a subscriber.
    events = new InstallEvents({
      labels: new HostContext(env.inventory, env.store),
      netbootEvents,
      store: env.store,
      unknownMachines,
    });
    plain = capture();
    live = capture();
    views = [
      new PlainView(plain.stream),
      new LiveView(
        live.stream as unknown as NodeJS.WriteStream,
        [{ name: "node1", phase: "pending", step: "" }],
        Date.now(),
      ),
    ];
    events.on((event) => {
      const progress = toProgressEvent(event);
      if (progress) for (const view of views) view.show(progress);
    });
    dashboard = new DashboardModel({
      inventory: env.inventory,
      store: env.store,
      events,
      unknownMachines,
      unknownRefreshMs: 1,
    });
  });

  afterEach(async () => {
    for (const view of views) view.close();
    dashboard.close();
    events.close();
    await env.cleanup();
  });

  it("names the host of a TFTP line in the terminal, as the dashboard's card does", () => {
    for (const event of tftpFromNode1(Date.now())) netbootEvents.emit(event);
    expect(plain.text()).toMatch(/ node1 \[pending\] TFTP 10\.77\.0\.101 started ipxe\.efi/);
    const card = dashboard.snapshot().hosts.find((host) => host.name === "node1")!;
    expect(card.timeline.map((entry) => entry.text)).toContainEqual(
      expect.stringMatching(/^TFTP 10\.77\.0\.101 started ipxe\.efi/),
    );
  });

  it("warns in the terminal, once, about a machine outside the inventory, which the dashboard lists", () => {
    unknownMachines.record({ mac: STRANGER_MAC, arch: 7 });
    unknownMachines.record({ mac: STRANGER_MAC, arch: 7 });
    const warning = `machine ${STRANGER_MAC} PXE-booted but is not in the inventory`;
    expect(plain.text().split(warning).length - 1).toBe(1);
    expect(plain.text()).toContain(`${STRANGER_MAC} ${warning}`);
    // The live table prints it above itself.
    expect(live.text()).toContain(warning);
    expect(dashboard.snapshot().unknownMachines.map((machine) => machine.mac)).toEqual([
      STRANGER_MAC,
    ]);
  });
});
