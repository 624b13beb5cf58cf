/**
 * The web dashboard as a fastify plugin: the page, its live feed (GET events) and /metrics.
 * `registerDashboard` mounts it on any app (the boot HTTP server under a prefix, say);
 * `startDashboard` gives it its own listener on the admin's address, 127.0.0.1 by default, so the
 * PXE network never sees it unless asked. Read-only: nothing on it changes the state. It answers
 * only requests that name it by its own address (host-header.ts) and escapes every string
 * (escape.ts).
 */
import Fastify, { type FastifyInstance } from "fastify";
import type { NetbootEvent } from "netboot";
import type { Inventory } from "../inventory/types.js";
import type { StateStore } from "../state/store.js";
import {
  DashboardModel,
  type DashboardSnapshot,
  type UnknownMachineSource,
} from "./dashboard-model.js";
import type { DashboardDeployEvent } from "./deploy-view.js";
import type { EventSubscription } from "./event-feed.js";
import { escapeStrings, PAGE_TEXT } from "./escape.js";
import { HEARTBEAT_MS, registerEventStream, type EventStreamOptions } from "./event-stream.js";
import { isOwnHost } from "./host-header.js";
import type { InstallEvent } from "./install-events.js";
import { Metrics, registerMetricsRoute } from "./metrics.js";
import { registerStaticAssets } from "./static-assets.js";

export const DEFAULT_DASHBOARD_HOST = "127.0.0.1";
export const DEFAULT_DASHBOARD_PORT = 8090;

export interface DashboardOptions {
  readonly inventory: Inventory;
  /** The install state; without it (a deploy dashboard) the page shows the deploy alone. */
  readonly store?: StateStore | undefined;
  /**
   * The install's one event stream, labelled by the labeller the terminal and the log use, so
   * all views name a machine alike (install-events.ts); install output becomes each host's log tail.
   */
  readonly events?: EventSubscription<InstallEvent> | undefined;
  readonly deployEvents?: EventSubscription<DashboardDeployEvent> | undefined;
  /** PXE clients outside the inventory (kept by the boot policy, in memory). */
  readonly unknownMachines?: UnknownMachineSource | undefined;
  /** Where the page lives on the app, e.g. "/dashboard" on the boot server. Default: "/". */
  readonly prefix?: string;
  /** Serve /metrics next to the page (default true). */
  readonly metrics?: boolean;
  readonly heartbeatMs?: number;
  /** Per-client coalescing and slow-reader limits of the live feed (event-stream.ts). */
  readonly stream?: Omit<EventStreamOptions, "heartbeatMs">;
  readonly unknownRefreshMs?: number;
  readonly clock?: () => number;
}

export interface Dashboard {
  snapshot(): DashboardSnapshot;
  readonly metrics: Metrics | undefined;
}

/** Adds the dashboard's routes to `app`; they stop with it (`app.close()`). */
export async function registerDashboard(
  app: FastifyInstance,
  options: DashboardOptions,
): Promise<Dashboard> {
  const model = new DashboardModel(options);
  const metrics =
    options.metrics === false
      ? undefined
      : new Metrics({
          netbootEvents: options.events && netbootEventsOf(options.events),
          store: options.store,
          inventory: options.inventory,
          deployEvents: options.deployEvents,
        });
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const hintTimer = setInterval(() => model.refreshHints(), heartbeatMs);
  hintTimer.unref();
  app.addHook("onClose", async () => {
    clearInterval(hintTimer);
    model.close();
    metrics?.close();
  });
  await app.register(
    async (scope) => {
      // DNS rebinding: every route, the page included, answers only to its own names.
      scope.addHook("onRequest", async (request, reply) => {
        const socket = request.raw.socket;
        if (isOwnHost(request.headers.host, socket.localAddress, socket.localPort)) return;
        await reply
          .code(403)
          .type("text/plain; charset=utf-8")
          .send(
            "this dashboard answers only to the address it listens on (or localhost through an SSH tunnel); open it by that address\n",
          );
      });
      await registerStaticAssets(scope);
      registerEventStream(scope, model, { ...options.stream, heartbeatMs });
      scope.get("/api/snapshot", async () => escapeStrings(model.snapshot(), PAGE_TEXT));
      if (metrics) registerMetricsRoute(scope, metrics);
    },
    { prefix: options.prefix ?? "" },
  );
  return { snapshot: () => model.snapshot(), metrics };
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `--dashboard [host:port]` of install and deploy: commander gives `true` without a value. */
export type DashboardFlag = ListenAddress | true | undefined;

/** Where the dashboard listens for that flag, or undefined for no dashboard. */
export function dashboardAddress(flag: DashboardFlag): ListenAddress | undefined {
  return flag === true ? { host: DEFAULT_DASHBOARD_HOST, port: DEFAULT_DASHBOARD_PORT } : flag;
}

export interface StartDashboardOptions extends Omit<DashboardOptions, "prefix"> {
  /** Default 127.0.0.1: the admin's machine only. */
  readonly host?: string;
  /** Default DEFAULT_DASHBOARD_PORT; 0 picks a free port. */
  readonly port?: number;
}

export interface RunningDashboard extends Dashboard {
  readonly url: string;
  close(): Promise<void>;
}

/** The dashboard on its own listener; `metal install --dashboard HOST:PORT` calls this. */
export async function startDashboard(options: StartDashboardOptions): Promise<RunningDashboard> {
  const app = Fastify({ logger: false });
  const dashboard = await registerDashboard(app, options);
  const host = options.host ?? DEFAULT_DASHBOARD_HOST;
  await app.listen({ host, port: options.port ?? DEFAULT_DASHBOARD_PORT });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    ...dashboard,
    url: `http://${hostPart}:${port}/`,
    close: () => app.close(),
  };
}

/** The netboot events of the install's stream, for the metrics (which count, not label). */
function netbootEventsOf(events: EventSubscription<InstallEvent>): EventSubscription<NetbootEvent> {
  return {
    on: (listener) =>
      events.on((event) => {
        if (event.source === "netboot") listener(event.event);
      }),
  };
}
