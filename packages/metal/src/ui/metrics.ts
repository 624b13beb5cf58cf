/**
 * Prometheus metrics fed by the same events as the dashboard: DHCP packets by message and
 * decision, TFTP and HTTP transfers, bytes and errors, hosts by phase, install durations and
 * deploy steps. Each Metrics owns its registry (never prom-client's global one), so two servers
 * in one process, or two tests, never see each other's counts. docs/dashboard.md lists the names.
 */
import type { NetbootEvent } from "netboot";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { FastifyInstance } from "fastify";
import type { Inventory } from "../inventory/types.js";
import type { StateStore } from "../state/store.js";
import { PHASES, type StateEvent } from "../state/types.js";
import type { DashboardDeployEvent } from "./deploy-view.js";
import type { EventSubscription } from "./event-feed.js";

const MS_PER_SECOND = 1000;
/** From a few minutes (lab) to an hour (a slow disk and a big closure). */
export const INSTALL_DURATION_BUCKETS_SECONDS = [
  30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600,
];

/** Ignore reasons are free text for people; metrics get a small fixed set of classes. */
const IGNORE_REASON_CLASSES: ReadonlyArray<readonly [RegExp, string]> = [
  [/not a PXE client/, "not-pxe"],
  [/is not ours to answer/, "not-ours"],
  [/architecture .* cannot be booted/, "unsupported-arch"],
  [/^boot policy:/, "policy"],
  [/malformed|not a BOOTREQUEST|not an Ethernet|plain BOOTP/i, "malformed"],
];

export function ignoreReasonClass(reason: string): string {
  return IGNORE_REASON_CLASSES.find(([pattern]) => pattern.test(reason))?.[1] ?? "other";
}

export interface MetricsSources {
  readonly netbootEvents?: EventSubscription<NetbootEvent> | undefined;
  readonly store?: StateStore | undefined;
  /** Its hosts not in the state yet count as pending. */
  readonly inventory?: Inventory | undefined;
  readonly deployEvents?: EventSubscription<DashboardDeployEvent> | undefined;
}

export class Metrics {
  readonly registry = new Registry();
  readonly #unsubscribe: Array<() => void> = [];
  readonly #installStartedAt = new Map<string, number>();

  readonly #dhcpRequests = new Counter({
    name: "metal_dhcp_requests_total",
    help: "DHCP packets received from PXE clients, by DHCP message type and port",
    labelNames: ["message", "port"] as const,
    registers: [this.registry],
  });
  readonly #dhcpReplies = new Counter({
    name: "metal_dhcp_replies_total",
    help: "proxyDHCP replies sent, by message type, port and firmware",
    labelNames: ["message", "port", "firmware"] as const,
    registers: [this.registry],
  });
  readonly #dhcpIgnored = new Counter({
    name: "metal_dhcp_ignored_total",
    help: "DHCP packets not answered, by port and reason class",
    labelNames: ["port", "reason"] as const,
    registers: [this.registry],
  });
  readonly #tftpTransfers = new Counter({
    name: "metal_tftp_transfers_total",
    help: "TFTP transfers by outcome (started, completed, failed)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly #tftpBytes = new Counter({
    name: "metal_tftp_bytes_total",
    help: "bytes of completed TFTP transfers",
    registers: [this.registry],
  });
  readonly #httpFiles = new Counter({
    name: "metal_http_files_total",
    help: "boot files served over HTTP, by status code and whether the client got every byte",
    labelNames: ["status", "complete"] as const,
    registers: [this.registry],
  });
  readonly #httpBytes = new Counter({
    name: "metal_http_bytes_total",
    help: "bytes of boot files sent over HTTP",
    registers: [this.registry],
  });
  readonly #httpScripts = new Counter({
    name: "metal_http_scripts_total",
    help: "iPXE scripts served, by action (boot, local, ignore)",
    labelNames: ["action"] as const,
    registers: [this.registry],
  });
  readonly #errors = new Counter({
    name: "metal_server_errors_total",
    help: "errors of the boot servers and the boot policy, by source",
    labelNames: ["source"] as const,
    registers: [this.registry],
  });
  readonly #wakes = new Counter({
    name: "metal_wol_sent_total",
    help: "Wake-on-LAN packets sent",
    registers: [this.registry],
  });
  readonly #installDuration = new Histogram({
    name: "metal_install_duration_seconds",
    help: "time from a host leaving pending to ready (one observation per finished attempt)",
    buckets: INSTALL_DURATION_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  readonly #deploySteps = new Counter({
    name: "metal_deploy_steps_total",
    help: "deploy steps by step and status (start, done, failed)",
    labelNames: ["step", "status"] as const,
    registers: [this.registry],
  });

  constructor(sources: MetricsSources) {
    const { store, inventory } = sources;
    // Without the install state there are no phases to count (a deploy-only dashboard).
    if (store)
      new Gauge({
        name: "metal_hosts",
        help: "hosts by install phase",
        labelNames: ["phase"] as const,
        registers: [this.registry],
        collect() {
          const counts = new Map<string, number>(PHASES.map((phase) => [phase, 0]));
          const names = new Set([
            ...(inventory?.hosts.map((host) => host.name) ?? []),
            ...Object.keys(store.snapshot().hosts),
          ]);
          for (const name of names) {
            const phase = store.host(name)?.phase ?? "pending";
            counts.set(phase, (counts.get(phase) ?? 0) + 1);
          }
          for (const [phase, count] of counts) this.set({ phase }, count);
        },
      });
    if (sources.netbootEvents)
      this.#unsubscribe.push(sources.netbootEvents.on((event) => this.#onNetboot(event)));
    if (store) this.#unsubscribe.push(store.on("event", (event) => this.#onState(event)));
    if (sources.deployEvents)
      this.#unsubscribe.push(sources.deployEvents.on((event) => this.#onDeploy(event)));
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }

  #onNetboot(event: NetbootEvent): void {
    switch (event.type) {
      case "dhcp.request":
        this.#dhcpRequests.inc({ message: event.message, port: String(event.port) });
        break;
      case "dhcp.reply":
        this.#dhcpReplies.inc({
          message: event.message,
          port: String(event.port),
          firmware: event.firmware,
        });
        break;
      case "dhcp.ignored":
        this.#dhcpIgnored.inc({
          port: String(event.port),
          reason: ignoreReasonClass(event.reason),
        });
        break;
      case "tftp.start":
        this.#tftpTransfers.inc({ outcome: "started" });
        break;
      case "tftp.end":
        this.#tftpTransfers.inc({ outcome: "completed" });
        this.#tftpBytes.inc(event.bytes);
        break;
      case "tftp.error":
        this.#tftpTransfers.inc({ outcome: "failed" });
        break;
      case "http.script":
        this.#httpScripts.inc({ action: event.action });
        break;
      case "http.file.start":
        break;
      case "http.file.end":
        this.#httpFiles.inc({ status: String(event.status), complete: String(event.complete) });
        this.#httpBytes.inc(event.bytes);
        break;
      case "wol.sent":
        this.#wakes.inc();
        break;
      case "policy.error":
        this.#errors.inc({ source: "policy" });
        break;
      case "server.error":
        this.#errors.inc({ source: event.server });
        break;
    }
  }

  #onState(event: StateEvent): void {
    if (event.type !== "host.phase") return;
    if (event.from === "pending") this.#installStartedAt.set(event.host, event.time);
    if (event.to === "ready") {
      const started = this.#installStartedAt.get(event.host);
      if (started !== undefined)
        this.#installDuration.observe((event.time - started) / MS_PER_SECOND);
    }
    if (event.to === "ready" || event.to === "failed") this.#installStartedAt.delete(event.host);
  }

  #onDeploy(event: DashboardDeployEvent): void {
    if (event.type === "deploy.step" && event.status !== "planned")
      this.#deploySteps.inc({ step: event.step, status: event.status });
    if (event.type === "deploy.failed")
      this.#deploySteps.inc({ step: event.step, status: "failed" });
  }
}

/** GET /metrics on an app (the dashboard's own listener, or the boot HTTP server). */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get("/metrics", async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.text()),
  );
}
