import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  IllegalTransitionError,
  PhaseConflictError,
  StateFileError,
  UnknownHostError,
} from "../../src/state/errors.js";
import { FileStateStore } from "../../src/state/file-store.js";
import { reinstall } from "../../src/state/reinstall.js";
import type { StateEvent } from "../../src/state/types.js";

describe("FileStateStore", () => {
  let directory: string;
  let now: number;
  const clock = () => now;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), "metal-state-"));
    now = 1_000;
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  async function openWithHosts() {
    const store = await FileStateStore.open(directory, { clock });
    await store.register(["node1", "node2"]);
    return store;
  }

  it("registers new hosts as pending, attempt 1, and leaves known hosts alone", async () => {
    const store = await openWithHosts();
    await store.change("node1", { expect: "pending", to: "pxe", step: "DHCP seen" });
    await store.register(["node1", "node2", "node3"]);
    expect(store.host("node1")?.phase).toBe("pxe");
    expect(store.host("node3")).toMatchObject({ phase: "pending", attempt: 1, tokens: {} });
  });

  it("persists every change: a reopened store sees it", async () => {
    const store = await openWithHosts();
    now = 2_000;
    await store.change("node1", {
      expect: ["pending", "waking"],
      to: "waking",
      step: "Wake-on-LAN sent",
    });
    await store.close();
    const reopened = await FileStateStore.open(directory, { clock });
    expect(reopened.host("node1")).toMatchObject({
      phase: "waking",
      lastStep: "Wake-on-LAN sent",
      since: 2_000,
    });
    expect(reopened.snapshot().seq).toBe(3);
  });

  it("refuses a change when the host is not in the expected phase (compare-and-set)", async () => {
    const store = await openWithHosts();
    await store.change("node1", { expect: "pending", to: "pxe", step: "DHCP" });
    await expect(
      store.change("node1", { expect: "pending", to: "waking", step: "WoL" }),
    ).rejects.toThrow(PhaseConflictError);
    await expect(
      store.change("node1", { expect: "pending", to: "waking", step: "WoL" }),
    ).rejects.toThrow('host "node1" is in phase pxe, not pending');
  });

  it("lets only one of two concurrent compare-and-set changes win", async () => {
    const store = await openWithHosts();
    await store.change("node1", { expect: "pending", to: "pxe", step: "DHCP" });
    const results = await Promise.allSettled([
      store.change("node1", { expect: "pxe", to: "installer", step: "callback A" }),
      store.change("node1", { expect: "pxe", to: "installer", step: "callback B" }),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
    expect(store.host("node1")?.lastStep).toBe("callback A");
  });

  it("refuses transitions outside the table, such as installed back to the installer", async () => {
    const store = await openWithHosts();
    await expect(
      store.change("node1", { expect: "pending", to: "installing", step: "x" }),
    ).rejects.toThrow(IllegalTransitionError);
    await expect(
      store.change("nodeX", { expect: "pending", to: "pxe", step: "x" }),
    ).rejects.toThrow(UnknownHostError);
  });

  it("walks the whole flow and records a failure with its reason and phase", async () => {
    const store = await openWithHosts();
    for (const [from, to] of [
      ["pending", "waking"],
      ["waking", "pxe"],
      ["pxe", "installer"],
      ["installer", "installing"],
      ["installing", "installed"],
      ["installed", "ready"],
    ] as const) {
      await store.change("node1", { expect: from, to, step: `to ${to}` });
    }
    expect(store.hostsInPhase("ready").map((h) => h.name)).toEqual(["node1"]);
    const failed = await store.change("node2", {
      expect: "pending",
      to: "failed",
      step: "gave up",
      reason: "no DHCP within 10 minutes",
    });
    expect(failed.failure).toEqual({ reason: "no DHCP within 10 minutes", phase: "pending" });
  });

  it("reinstall starts a new attempt from installed, ready or failed and forgets old tokens", async () => {
    const store = await openWithHosts();
    await store.change("node1", {
      expect: "pending",
      to: "failed",
      step: "failed",
      update: () => ({
        tokens: { installer: { sha256: "ab", attempt: 1, issuedAt: 1, expiresAt: 2 } },
      }),
    });
    const again = await reinstall(store, "node1");
    expect(again).toMatchObject({ phase: "pending", attempt: 2, tokens: {}, failure: undefined });
    await expect(reinstall(store, "node2")).rejects.toThrow(
      "is in phase pending, not installed or ready or failed",
    );
  });

  it("emits each event after it is persisted and keeps the history in order", async () => {
    const store = await openWithHosts();
    const seen: StateEvent[] = [];
    store.on("event", (event) => seen.push(event));
    await store.change("node1", { expect: "pending", to: "pxe", step: "DHCP from BIOS firmware" });
    await store.change("node1", { expect: "pxe", step: "installer script served" });
    expect(seen.map((e) => e.type)).toEqual(["host.phase", "host.step"]);
    expect(seen[0]).toMatchObject({
      host: "node1",
      from: "pending",
      to: "pxe",
      attempt: 1,
      seq: 3,
    });
    const history = await store.history();
    expect(history.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(history.slice(2)).toEqual(seen);
  });

  it("counts sightings of unknown machines", async () => {
    const store = await openWithHosts();
    await store.recordUnknownMachine({ mac: "52:54:00:aa:bb:cc", arch: 7 });
    now = 5_000;
    const machine = await store.recordUnknownMachine({ mac: "52:54:00:aa:bb:cc" });
    expect(machine).toEqual({
      mac: "52:54:00:aa:bb:cc",
      firstSeen: 1_000,
      lastSeen: 5_000,
      count: 2,
      arch: 7,
    });
  });

  it("skips a history line cut short by a crash", async () => {
    const store = await openWithHosts();
    await store.close();
    await writeFile(
      join(directory, "events.jsonl"),
      `${await readFile(join(directory, "events.jsonl"), "utf8")}{"seq":3,"ty`,
    );
    expect((await store.history()).map((e) => e.seq)).toEqual([1, 2]);
  });

  it("repairs a history line torn by a crash, so the next event appended is replayed", async () => {
    const store = await openWithHosts();
    await store.close();
    const events = join(directory, "events.jsonl");
    await writeFile(events, `${await readFile(events, "utf8")}{"seq":3,"ty`);
    const reopened = await FileStateStore.open(directory, { clock });
    await reopened.change("node1", { expect: "pending", to: "pxe", step: "DHCP seen" });
    await reopened.close();
    const replayed = await (await FileStateStore.open(directory, { clock })).history();
    expect(replayed.map((event) => [event.seq, event.type])).toEqual([
      [1, "host.added"],
      [2, "host.added"],
      [3, "host.phase"],
    ]);
  });

  it("names a hand-corrupted nested field of the state file and the fix", async () => {
    const store = await openWithHosts();
    await store.close();
    const file = join(directory, "state.json");
    const state = JSON.parse(await readFile(file, "utf8"));
    state.hosts.node1.attempt = "two";
    state.hosts.node2.tokens = { installer: { sha256: "abc", attempt: 1 } };
    await writeFile(file, JSON.stringify(state));
    const opening = FileStateStore.open(directory);
    await expect(opening).rejects.toThrow(StateFileError);
    const message = await opening.catch((error: Error) => error.message);
    expect(message).toContain("hosts.node1.attempt");
    expect(message).toContain("hosts.node2.tokens.installer.sha256: is not a hex SHA-256");
    expect(message).toContain("hosts.node2.tokens.installer.issuedAt");
    expect(message).toContain("restore it from a backup or fix it by hand");
  });

  it("refuses a host record filed under another host's name", async () => {
    const store = await openWithHosts();
    await store.close();
    const file = join(directory, "state.json");
    const state = JSON.parse(await readFile(file, "utf8"));
    state.hosts.node1.name = "node2";
    await writeFile(file, JSON.stringify(state));
    await expect(FileStateStore.open(directory)).rejects.toThrow(
      /hosts\.node1\.name: is "node2", but the record is filed under "node1"/,
    );
  });

  it("names an unusable state file and why moving it aside is dangerous", async () => {
    await writeFile(join(directory, "state.json"), "{ not json");
    await expect(FileStateStore.open(directory)).rejects.toThrow(StateFileError);
    await expect(FileStateStore.open(directory)).rejects.toThrow(
      /is not valid JSON; restore it from a backup/,
    );
  });
});

describe("state directory lock", () => {
  it("lets one store at a time use a directory and takes over the lock of a dead process", async () => {
    const { StateLockedError } = await import("../../src/state/errors.js");
    const directory = await mkdtemp(join(tmpdir(), "metal-lock-"));
    try {
      const first = await FileStateStore.open(directory);
      await expect(FileStateStore.open(directory)).rejects.toThrow(StateLockedError);
      await expect(FileStateStore.open(directory)).rejects.toThrow(
        `is in use by another metal process (pid ${process.pid})`,
      );
      await first.close();
      // A PID that cannot be alive (above the kernel's pid_max) stands for a process killed with -9.
      await writeFile(join(directory, "lock"), "4194305\n");
      const second = await FileStateStore.open(directory);
      await second.close();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
