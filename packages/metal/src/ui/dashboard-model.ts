/**
 * What the dashboard shows, kept up to date from the install's one labelled event stream
 * (install-events.ts: netboot, state, unknown machines, install output) and deploy's events: one card per inventory host with its timeline,
 * downloads, log tail and hints, the machines seen but not in the inventory, and the deploy.
 * Every change is published as a small update (one host card, the unknown machines that
 * changed, the deploy) so the page replaces just that part; the unknown list is recomputed at
 * most once per UNKNOWN_REFRESH_MS however often machines are seen (a LAN can send thousands of
 * PXE packets a second), and only the entries that changed are sent.
 */
import { describeEvent, type NetbootEvent } from "netboot";
import type { Inventory } from "../inventory/types.js";
import type { StateStore } from "../state/store.js";
import type {
  HostRecord,
  InstallerFacts,
  Phase,
  StateEvent,
  UnknownMachine,
} from "../state/types.js";
import { unknownMachineStatuses, type UnknownMachineStatus } from "../status/report.js";
import { applyDeployEvent, type DashboardDeployEvent, type DeployView } from "./deploy-view.js";
import { EventFeed, type EventSubscription } from "./event-feed.js";
import { hintsFor, type Hint, type HostObservations } from "./hints.js";
import type { HostLabels } from "./host-context.js";
import type { InstallEvent } from "./install-events.js";

export type TimelineLevel = "info" | "warn" | "error";

export interface TimelineEntry {
  readonly time: number;
  readonly level: TimelineLevel;
  readonly text: string;
  /** The same line again (a firmware retrying) counts up instead of adding a row. */
  count: number;
}

export interface Download {
  readonly path: string;
  readonly size: number;
  bytes: number;
  state: "running" | "done" | "aborted";
  durationMs: number | undefined;
}

export interface HostCard {
  readonly name: string;
  readonly mac: string;
  readonly role: string;
  readonly address: string;
  phase: Phase;
  attempt: number | undefined;
  since: number | undefined;
  lastStep: string;
  failure: HostRecord["failure"];
  timeline: TimelineEntry[];
  downloads: Download[];
  logTail: string[];
  hints: Hint[];
}

export interface DashboardSnapshot {
  readonly cluster: string;
  readonly hosts: readonly HostCard[];
  readonly unknownMachines: readonly UnknownMachineStatus[];
  readonly deploy: DeployView | undefined;
}

/**
 * `unknown` is a delta: `machines` replaces the entries with those MACs (or adds them), `removed`
 * drops entries. Where the unknown machines are kept (state file, a capped in-memory table) does
 * not matter: any UnknownMachineSource feeds the same protocol.
 */
export type DashboardUpdate =
  | { readonly kind: "host"; readonly host: HostCard }
  | {
      readonly kind: "unknown";
      readonly machines: readonly UnknownMachineStatus[];
      readonly removed: readonly string[];
    }
  | { readonly kind: "deploy"; readonly deploy: DeployView };

/** Machines seen but not in the inventory, wherever they are kept. */
export interface UnknownMachineSource {
  /** Most recently seen first. */
  list(): readonly UnknownMachine[];
  /** Called after the set or an entry changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/**
 * Without a store (a `metal deploy` dashboard), there are no host cards and no unknown
 * machines: the page shows the deploy alone.
 */
export interface DashboardSources {
  readonly inventory: Inventory;
  readonly store?: StateStore | undefined;
  /** The install's one stream, labelled by the labeller every view shares (install-events.ts). */
  readonly events?: EventSubscription<InstallEvent> | undefined;
  readonly deployEvents?: EventSubscription<DashboardDeployEvent> | undefined;
  /** PXE clients outside the inventory (kept by the boot policy, in memory: boot/unknown-machines.ts). */
  readonly unknownMachines?: UnknownMachineSource | undefined;
  readonly unknownRefreshMs?: number;
  readonly clock?: () => number;
}

export const MAX_TIMELINE_ENTRIES = 60;
export const MAX_LOG_TAIL_LINES = 15;
/** An installer controls its output: one line may not fill the page (or a client's buffer). */
export const MAX_LOG_LINE_CHARS = 1_000;
export const UNKNOWN_REFRESH_MS = 250;

type Counters = { -readonly [K in keyof HostObservations]: HostObservations[K] };

const BOOT_FILE = /\/files\//;

function factsLine(facts: InstallerFacts): string {
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  const disks = facts.disks.map((disk) => `${disk.name} ${gib(disk.sizeBytes)}`).join(", ");
  return `installer called back from ${facts.ip}: ${facts.firmware}, ${gib(facts.memoryBytes)} RAM, disks ${disks || "none"}`;
}

export class DashboardModel {
  readonly #sources: DashboardSources;
  readonly #clock: () => number;
  readonly #cards = new Map<string, HostCard>();
  readonly #seen = new Map<string, Counters>();
  readonly #updates = new EventFeed<DashboardUpdate>();
  readonly #unsubscribe: Array<() => void>;
  readonly #unknownSource: UnknownMachineSource | undefined;
  readonly #unknownRefreshMs: number;
  #unknownTimer: NodeJS.Timeout | undefined;
  #unknown: readonly UnknownMachineStatus[];
  /** The JSON each unknown machine was last published as, by MAC: what a delta compares with. */
  #unknownPublished = new Map<string, string>();
  #deploy: DeployView | undefined;

  constructor(sources: DashboardSources) {
    this.#sources = sources;
    this.#clock = sources.clock ?? Date.now;
    for (const host of sources.store ? sources.inventory.hosts : []) {
      const card: HostCard = {
        name: host.name,
        mac: host.mac,
        role: host.role,
        address: host.address,
        phase: "pending",
        attempt: undefined,
        since: undefined,
        lastStep: "not started",
        failure: undefined,
        timeline: [],
        downloads: [],
        logTail: [],
        hints: [],
      };
      this.#cards.set(host.name, card);
      this.#seen.set(host.name, {
        phase: "pending",
        offers: 0,
        uefi: false,
        httpBoot: false,
        requestsOn4011: 0,
        tftpStarted: 0,
        httpFirstStage: false,
        tftpErrors: 0,
        scriptServed: false,
        abortedDownloads: 0,
        bootFilesDoneAt: undefined,
        policyErrors: 0,
        failureReason: undefined,
      });
      this.#syncRecord(card);
    }
    this.#unknownSource = sources.unknownMachines;
    this.#unknownRefreshMs = sources.unknownRefreshMs ?? UNKNOWN_REFRESH_MS;
    this.#unknown = this.#unknownMachines();
    this.#unknownPublished = new Map(
      this.#unknown.map((machine) => [machine.mac, JSON.stringify(machine)]),
    );
    this.#unsubscribe = [
      ...(this.#unknownSource
        ? [this.#unknownSource.onChange(() => this.#scheduleUnknownRefresh())]
        : []),
      ...(sources.events ? [sources.events.on((event) => this.#onInstallEvent(event))] : []),
      ...(sources.deployEvents ? [sources.deployEvents.on((event) => this.#onDeploy(event))] : []),
    ];
  }

  get updates(): EventSubscription<DashboardUpdate> {
    return this.#updates;
  }

  snapshot(): DashboardSnapshot {
    // A refresh still waiting for its timer happens now, so a snapshot is never behind.
    if (this.#unknownTimer) {
      clearTimeout(this.#unknownTimer);
      this.#unknownTimer = undefined;
      this.#refreshUnknown();
    }
    return {
      cluster: this.#sources.inventory.cluster.name,
      hosts: [...this.#cards.values()],
      unknownMachines: this.#unknownMachines(),
      deploy: this.#deploy,
    };
  }

  /** Re-evaluates the hints that depend on time passing (a callback that never came). */
  refreshHints(): void {
    for (const card of this.#cards.values()) this.#publishIfHintsChanged(card);
  }

  close(): void {
    clearTimeout(this.#unknownTimer);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }

  #syncRecord(card: HostCard): void {
    const record = this.#sources.store?.host(card.name);
    if (!record) return;
    card.phase = record.phase;
    card.attempt = record.attempt;
    card.since = record.since;
    card.lastStep = record.lastStep;
    card.failure = record.failure;
    const seen = this.#seen.get(card.name)!;
    seen.phase = record.phase;
    seen.failureReason = record.failure?.reason;
  }

  #unknownMachines(): readonly UnknownMachineStatus[] {
    const source = this.#unknownSource;
    return source ? unknownMachineStatuses(source.list(), this.#sources.inventory) : [];
  }

  #scheduleUnknownRefresh(): void {
    if (this.#unknownTimer) return;
    this.#unknownTimer = setTimeout(() => {
      this.#unknownTimer = undefined;
      this.#refreshUnknown();
    }, this.#unknownRefreshMs);
  }

  #refreshUnknown(): void {
    this.#unknown = this.#unknownMachines();
    const published = new Map(
      this.#unknown.map((machine) => [machine.mac, JSON.stringify(machine)]),
    );
    const machines = this.#unknown.filter(
      (machine) => this.#unknownPublished.get(machine.mac) !== published.get(machine.mac),
    );
    const removed = [...this.#unknownPublished.keys()].filter((mac) => !published.has(mac));
    this.#unknownPublished = published;
    if (machines.length > 0 || removed.length > 0)
      this.#updates.emit({ kind: "unknown", machines, removed });
  }

  #addEntry(card: HostCard, time: number, level: TimelineLevel, text: string): void {
    const last = card.timeline.at(-1);
    if (last && last.text === text && last.level === level) {
      last.count++;
      return;
    }
    card.timeline.push({ time, level, text, count: 1 });
    if (card.timeline.length > MAX_TIMELINE_ENTRIES) card.timeline.shift();
  }

  #publish(card: HostCard): void {
    card.hints = hintsFor(this.#seen.get(card.name)!, this.#clock());
    this.#updates.emit({ kind: "host", host: card });
  }

  #publishIfHintsChanged(card: HostCard): void {
    const hints = hintsFor(this.#seen.get(card.name)!, this.#clock());
    if (hints.map((hint) => hint.id).join() === card.hints.map((hint) => hint.id).join()) return;
    this.#publish(card);
  }

  #onInstallEvent(event: InstallEvent): void {
    switch (event.source) {
      case "netboot":
        return this.#onNetboot(event.event, event.labels);
      case "state":
        return this.#onState(event.event);
      case "output":
        if (event.labels.host !== undefined) this.#onOutput(event.labels.host, event.line);
        return;
      case "unknown":
      case "server":
        // Unknown machines come from their source as coalesced deltas; metal's messages are the terminal's.
        return;
    }
  }

  #onNetboot(event: NetbootEvent, labels: HostLabels): void {
    const card = labels.host === undefined ? undefined : this.#cards.get(labels.host);
    const seen = labels.host === undefined ? undefined : this.#seen.get(labels.host);
    if (!card || !seen) return;
    const described = describeEvent(event);
    switch (event.type) {
      case "dhcp.request":
        if (event.port === 67) return;
        seen.requestsOn4011++;
        break;
      case "dhcp.ignored":
        return;
      case "dhcp.reply":
        if (event.port === 67) seen.offers++;
        seen.uefi = event.firmware.startsWith("uefi");
        // iPXE's own request after an HTTP boot is a PXE one: the machine stays an HTTP booter.
        seen.httpBoot ||= event.httpBoot;
        break;
      case "tftp.start":
        seen.tftpStarted++;
        break;
      case "tftp.error":
        seen.tftpErrors++;
        break;
      case "http.script":
        seen.scriptServed = true;
        break;
      case "http.file.start":
        // Before any script, the only file a machine fetches over HTTP is its first stage
        // (UEFI HTTP boot); iPXE ROMs fetch their script first.
        if (!seen.scriptServed) seen.httpFirstStage = true;
        card.downloads = [
          ...card.downloads.filter((download) => download.path !== event.path),
          {
            path: event.path,
            size: event.bytes,
            bytes: 0,
            state: "running",
            durationMs: undefined,
          },
        ];
        break;
      case "http.file.end": {
        const download = card.downloads.find((candidate) => candidate.path === event.path);
        if (download) {
          download.bytes = event.bytes;
          download.state = event.complete ? "done" : "aborted";
          download.durationMs = event.durationMs;
        }
        if (!event.complete) seen.abortedDownloads++;
        else if (BOOT_FILE.test(event.path)) seen.bootFilesDoneAt = event.time;
        break;
      }
      case "policy.error":
        seen.policyErrors++;
        break;
    }
    this.#addEntry(
      card,
      event.time,
      described.level === "error" ? "error" : described.level === "warn" ? "warn" : "info",
      described.message,
    );
    this.#publish(card);
  }

  #onState(event: StateEvent): void {
    const card = this.#cards.get(event.host);
    if (!card) return;
    this.#syncRecord(card);
    if (event.type === "host.phase") {
      const facts = this.#sources.store?.host(event.host)?.installer?.facts;
      if (event.to === "installer" && facts)
        this.#addEntry(card, event.time, "info", factsLine(facts));
      if (event.to === "pending") card.downloads = [];
      const failed = event.to === "failed";
      this.#addEntry(
        card,
        event.time,
        failed ? "error" : "info",
        `${event.from} → ${event.to}: ${event.step}${event.reason ? ` (${event.reason})` : ""}`,
      );
    } else if (event.type === "host.step") {
      this.#addEntry(card, event.time, "info", event.step);
    }
    this.#publish(card);
  }

  #onDeploy(event: DashboardDeployEvent): void {
    this.#deploy = applyDeployEvent(this.#deploy, event);
    if (this.#deploy) this.#updates.emit({ kind: "deploy", deploy: this.#deploy });
  }

  #onOutput(host: string, output: string): void {
    const card = this.#cards.get(host);
    if (!card) return;
    const line =
      output.length > MAX_LOG_LINE_CHARS ? `${output.slice(0, MAX_LOG_LINE_CHARS - 1)}…` : output;
    card.logTail = [...card.logTail, line].slice(-MAX_LOG_TAIL_LINES);
    this.#publish(card);
  }
}
