/**
 * The install's one event stream: the terminal and the dashboard subscribe to the same labelled
 * events, so they name a machine alike and both report a machine outside the inventory.
 */
import { NetbootEvents } from "netboot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UnknownMachines } from "../../src/boot/unknown-machines.js";
import { toProgressEvent } from "../../src/install/progress-events.js";
import { LiveView, PlainView, type ProgressView } from "../../src/install/progress.js";
import { DashboardModel } from "../../src/ui/dashboard-model.js";
import { HostContext } from "../../src/ui/host-context.js";
import { InstallEvents } from "../../src/ui/install-events.js";
import { fixture, type Fixture } from "../helpers.js";
import { capture, tftpFromNode1 } from "./support/node1-tftp.js";

const STRANGER_MAC = "02:00:00:00:00:99";

/** A genuine OVMF machine asking for its first stage. */
const tftpFromGenuineNode1 = (time: number) =>
  tftpFromNode1(time, {
    vendorClass: "PXEClient:Arch:00007",
    userClass: undefined,
    file: "ipxe.efi",
  });

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
    for (const event of tftpFromGenuineNode1(Date.now())) netbootEvents.emit(event);
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
