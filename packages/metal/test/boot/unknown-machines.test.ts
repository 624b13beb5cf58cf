import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  MAX_UNKNOWN_MACHINES,
  readUnknownMachines,
  UNKNOWN_MACHINE_TTL_MS,
  UnknownMachines,
} from "../../src/boot/unknown-machines.js";

const macOf = (index: number) =>
  `02:66:00:00:${(index >> 8).toString(16).padStart(2, "0")}:${(index & 0xff).toString(16).padStart(2, "0")}`;

describe("unknown machines", () => {
  it("keeps at most MAX_UNKNOWN_MACHINES, evicting the least recently seen, and counts every sighting", () => {
    const unknown = new UnknownMachines();
    for (let index = 0; index < 3000; index++) unknown.record({ mac: macOf(index) });
    unknown.record({ mac: macOf(2999), arch: 7 });
    const snapshot = unknown.snapshot();
    expect(snapshot.machines).toHaveLength(MAX_UNKNOWN_MACHINES);
    expect(snapshot.machines[0]).toMatchObject({ mac: macOf(2999), count: 2, arch: 7 });
    expect(snapshot.sightings).toBe(3001);
    expect(snapshot.evicted).toBe(3000 - MAX_UNKNOWN_MACHINES);
  });

  it("forgets a MAC not seen for UNKNOWN_MACHINE_TTL_MS", () => {
    let now = 1_000_000;
    const unknown = new UnknownMachines({ clock: () => now });
    unknown.record({ mac: macOf(1) });
    now += UNKNOWN_MACHINE_TTL_MS - 1;
    unknown.record({ mac: macOf(2) });
    expect(unknown.list().map((machine) => machine.mac)).toEqual([macOf(2), macOf(1)]);
    now += 1;
    expect(unknown.list().map((machine) => machine.mac)).toEqual([macOf(2)]);
  });

  it("leaves a snapshot for metal status on close, and reads a missing or foreign file as none", async () => {
    const directory = await mkdtemp(path.join(tmpdir(), "metal-unknown-"));
    try {
      expect((await readUnknownMachines(directory)).machines).toEqual([]);
      const unknown = new UnknownMachines({ stateDir: directory });
      unknown.record({ mac: macOf(5), arch: 0 });
      await unknown.close();
      expect(await readUnknownMachines(directory)).toMatchObject({
        machines: [{ mac: macOf(5), count: 1, arch: 0 }],
        sightings: 1,
        evicted: 0,
      });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
