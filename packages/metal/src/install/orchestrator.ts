/**
 * `metal install` as one function: load the state, decide what this run does (resume.ts), serve
 * PXE + the callback API on one HTTP server, wake the machines, install each host as soon as its
 * installer has called back (bounded parallelism), wait for every installed system's first boot,
 * and end with a summary once every host is `ready` or `failed`. Everything it started is closed
 * before it returns, whether it finished, failed or was interrupted.
 */
import type { InstallerDirs } from "../boot/installer-dirs.js";
import { readFile } from "node:fs/promises";
import {
  DEBIAN_FIRST_STAGE_FILES,
  interfaceIpv4,
  NetbootEvents,
  NetbootServer,
  type NetbootEvent,
} from "netboot";
import pLimit from "p-limit";
import { createBootPolicy } from "../boot/policy.js";
import { PxeAddressBook } from "../boot/pxe-addresses.js";
import { UnknownMachines } from "../boot/unknown-machines.js";
import { CALLBACK_PATH, registerCallbackRoutes } from "../callback/routes.js";
import type { Host, Inventory } from "../inventory/types.js";
import type { PowerDriver, PowerDrivers } from "../power/driver.js";
import { removeStaleExtraFiles } from "../secrets/extra-files.js";
import { secretsFindings } from "../secrets/key-findings.js";
import { privatePaths } from "../secrets/layout.js";
import type { StateStore } from "../state/store.js";
import { startDashboard, type ListenAddress, type RunningDashboard } from "../ui/dashboard.js";
import { HostContext } from "../ui/host-context.js";
import { InstallEvents } from "../ui/install-events.js";
import { FINAL_PHASES, move } from "../state/lifecycle.js";
import type { Phase } from "../state/types.js";
import { ConfigError } from "./errors.js";
import { hostLogFile, installHost } from "./host-install.js";
import type { ProgressEvent, ProgressView } from "./progress.js";
import { toProgressEvent } from "./progress-events.js";
import { pinnedSshProbe, type InstalledProbe } from "./installed-probe.js";
import { prepareRun } from "./resume.js";
import { DEFAULT_INSTALL_BACK_OFF, type BackOff } from "./retry.js";
import { buildSummary, formatDuration, type InstallSummary } from "./summary.js";
import { DEFAULT_WAKE_INTERVAL_MS, startWakeLoop, type SelfHealing } from "./wake.js";

export const DEFAULT_FIRST_BOOT_TIMEOUT_MS = 30 * 60 * 1000;

export interface InstallRunOptions {
  readonly inventory: Inventory;
  /** Opened (and closed) by the command: which backend holds the state is its choice. */
  readonly store: StateStore;
  /** Where logs and per-host work files go. */
  readonly stateDir: string;
  readonly installerDir: string;
  /** Installers by host architecture (ADR 0191, 0300); default: `installerDir` for x86_64. */
  readonly installerDirs?: InstallerDirs;
  readonly secretsDir: string;
  /** First-stage iPXE binaries (`--ipxe-dir`); default Debian's /usr/lib/ipxe. */
  readonly firstStageDir?: string;
  readonly reinstall?: readonly string[];
  readonly httpPort: number;
  /** Where machines reach us; default: the IPv4 address of `network.interface`. */
  readonly serverAddress?: string;
  readonly broadcastAddress?: string;
  readonly wakeIntervalMs?: number;
  /** Each host's power driver (Wake-on-LAN, a BMC…), built at the command edge. */
  readonly power: PowerDrivers;
  /** Power-cycle stuck hosts (where their driver can): timeouts and how many times. */
  readonly selfHealing?: SelfHealing;
  readonly firstBootTimeoutMs?: number;
  readonly backOff?: BackOff;
  /** Does an installer still answer (resume)? Default: TCP to its SSH port. */
  readonly installerAnswers?: (address: string) => Promise<boolean>;
  /** Is a host installed? Default: SSH to its inventory address with its pinned host key. */
  readonly installedAnswers?: InstalledProbe;
  /** Creates the progress view once the hosts and their phases are known. */
  readonly view: (
    hosts: ReadonlyArray<{ name: string; phase: Phase; step: string }>,
    startedAt: number,
  ) => ProgressView;
  /** Every event, for the JSON log. */
  readonly log?: (event: ProgressEvent) => void;
  /** SIGINT/SIGTERM: stop installs and servers, keep the state, return an interrupted summary. */
  readonly signal: AbortSignal;
  /**
   * Called once PXE is served, before the wake loop powers any host on: `metal reinstall` makes
   * its running host boot from the network here. Its text becomes a server line in the timeline.
   */
  readonly onServing?: () => Promise<string>;
  /** Serve the web dashboard and /metrics here while the run lasts (docs/dashboard.md). */
  readonly dashboard?: ListenAddress | undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The admin key and each host's pre-generated key must exist before anything is served. */
async function checkSecrets(inventory: Inventory, secretsDir: string, hosts: readonly Host[]) {
  const problem = (await secretsFindings({ ...inventory, hosts }, secretsDir)).find(
    (finding) => !finding.ok,
  );
  if (problem) throw new ConfigError(`${problem.message}. Fix: ${problem.fix ?? ""}`);
}

export async function runInstall(options: InstallRunOptions): Promise<InstallSummary> {
  const { inventory, stateDir, signal, store } = options;
  // A run killed with SIGKILL leaves its hosts' key trees behind; the next run removes them.
  await removeStaleExtraFiles();
  const names = inventory.hosts.map((host) => host.name);
  const summarise = (startedAt: number | undefined, finishedAt: Map<string, number>) =>
    buildSummary({
      store,
      hosts: names,
      logFile: (host) => hostLogFile(stateDir, host),
      finishedAt,
      startedAt,
      now: Date.now(),
      interrupted: signal.aborted,
    });

  const installedAnswers =
    options.installedAnswers ?? pinnedSshProbe({ secretsDir: options.secretsDir });
  await prepareRun({
    store,
    inventory,
    installedAnswers,
    reinstall: options.reinstall ?? [],
    ...(options.installerAnswers ? { installerAnswers: options.installerAnswers } : {}),
  });
  const phaseOf = (name: string) => store.host(name)!.phase;
  // The one labeller of every view: the terminal, the log and the dashboard name hosts alike.
  const hosts = new HostContext(inventory, store);
  if (names.every((name) => phaseOf(name) === "ready")) return summarise(undefined, new Map());

  await checkSecrets(
    inventory,
    options.secretsDir,
    inventory.hosts.filter((host) => phaseOf(host.name) !== "ready"),
  );
  const network = options.serverAddress
    ? { address: options.serverAddress, broadcast: options.broadcastAddress ?? "255.255.255.255" }
    : interfaceIpv4(inventory.network.interface);
  const callbackBaseUrl = `http://${network.address}:${options.httpPort}${CALLBACK_PATH}`;
  // Before anything is served: a missing BMC password is a configuration error, not a stuck host.
  const netbootEvents = new NetbootEvents();
  const powerContext = { broadcastAddress: network.broadcast, events: netbootEvents };
  const drivers = new Map<string, PowerDriver>();
  for (const host of inventory.hosts.filter((candidate) => phaseOf(candidate.name) !== "ready"))
    drivers.set(host.name, await options.power(host, powerContext));
  // Checks the installer files too: a problem there stops the run before anything is shown.
  const pxeAddresses = new PxeAddressBook(new Set(inventory.hosts.map((host) => host.mac)));
  const unknownMachines = new UnknownMachines({ stateDir });
  const policy = await createBootPolicy({
    inventory,
    store,
    installerDir: options.installerDir,
    ...(options.installerDirs ? { installerDirs: options.installerDirs } : {}),
    callbackBaseUrl,
    pxeAddresses,
    unknownMachines,
  });
  const startedAt = Date.now();
  const finishedAt = new Map<string, number>();
  const view = options.view(
    names.map((name) => ({ name, phase: phaseOf(name), step: store.host(name)!.lastStep })),
    startedAt,
  );
  // The one stream every view reads: the terminal and the log here, the dashboard below.
  const events = new InstallEvents({ labels: hosts, netbootEvents, store, unknownMachines });
  const unsubscribeView = events.on((event) => {
    const progress = toProgressEvent(event);
    if (!progress) return;
    options.log?.(progress);
    view.show(progress);
  });

  const installs = new AbortController();
  const stopInstalls = () => installs.abort();
  signal.addEventListener("abort", stopInstalls, { once: true });
  const limit = pLimit(inventory.install.parallel);
  const active = new Set<string>();
  const running: Promise<void>[] = [];
  const firstBootTimers = new Map<string, NodeJS.Timeout>();
  let settle: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (settle = resolve));
  const allFinal = () => names.every((name) => FINAL_PHASES.includes(phaseOf(name)));

  const startInstall = (host: Host) => {
    if (active.has(host.name)) return;
    active.add(host.name);
    const job = limit(() =>
      installHost(
        {
          inventory,
          store,
          secretsDir: options.secretsDir,
          stateDir,
          callbackBaseUrl,
          backOff: options.backOff ?? DEFAULT_INSTALL_BACK_OFF,
          signal: installs.signal,
          onLine: (name, line) => events.output(name, line),
        },
        host,
      ),
    )
      .catch((error: unknown) =>
        events.message(host.name, "error", `install of ${host.name} stopped: ${errorText(error)}`),
      )
      .finally(() => active.delete(host.name));
    running.push(job);
  };

  const awaitFirstBoot = (host: Host) => {
    if (firstBootTimers.has(host.name)) return;
    const timeout = options.firstBootTimeoutMs ?? DEFAULT_FIRST_BOOT_TIMEOUT_MS;
    // Silent first boot: SSH with the pinned key decides (a system that boots but cannot call
    // back is still ready); failing here never leads to a second install (ADR 0181).
    const timer = setTimeout(() => {
      void installedAnswers(host)
        .then((up) =>
          store.change(
            host.name,
            up
              ? move(
                  "firstBoot",
                  `no first-boot callback within ${formatDuration(timeout)}, but its pinned SSH host key answered on ${host.address}`,
                )
              : move("fail", "no first boot", {
                  from: "installed",
                  reason:
                    `the installed system did not call back within ${formatDuration(timeout)} ` +
                    `and does not answer SSH with its pinned host key on ${host.address}; ` +
                    "check its console (did it boot from its disk? is the network up?). " +
                    "The next metal install waits for it again; it is not installed twice",
                }),
          ),
        )
        .catch(() => undefined);
    }, timeout);
    firstBootTimers.set(host.name, timer);
  };

  const onPhase = (name: string, phase: Phase) => {
    const host = hosts.byName(name);
    if (!host) return;
    if (phase === "installer") startInstall(host);
    if (phase === "installed") awaitFirstBoot(host);
    if (FINAL_PHASES.includes(phase)) {
      finishedAt.set(name, Date.now());
      clearTimeout(firstBootTimers.get(name));
    }
    if (allFinal()) settle();
  };

  const unsubscribeState = store.on("event", (event) => {
    if (event.type === "host.phase") onPhase(event.host, event.to);
  });

  const server = new NetbootServer({
    serverAddress: network.address,
    policy,
    ...(options.firstStageDir ? { firstStageDir: options.firstStageDir } : {}),
    // Staging copies only named first stages (ADR 0160): a host's `first_stage` override too.
    firstStageFiles: firstStageFilesFor(inventory),
    httpPort: options.httpPort,
    events: netbootEvents,
  });
  const unsubscribeNetboot = server.events.on((event: NetbootEvent) => pxeAddresses.observe(event));
  await registerCallbackRoutes(server.http.app, {
    inventory,
    store,
    serverAddress: network.address,
    expectedHostKey: (host) =>
      readFile(privatePaths(options.secretsDir).hostPublicKey(host), "utf8").catch(() => undefined),
  });

  let wake: { stop(): void } | undefined;
  let dashboard: RunningDashboard | undefined;
  try {
    await server.start();
    if (options.dashboard) {
      dashboard = await startDashboard({
        ...options.dashboard,
        inventory,
        store,
        events,
        unknownMachines,
      });
      events.message(
        undefined,
        "info",
        `dashboard on ${dashboard.url} (metrics: ${dashboard.url}metrics)`,
      );
    }
    events.message(
      undefined,
      "info",
      `serving PXE and the callback API on ${network.address} (HTTP ${server.httpUrl})`,
    );
    // Before the wake loop: a reinstalled host's network boot is arranged first, or the loop's
    // power-on would boot it from its disk once more before the BMC's one-time PXE cycle.
    if (options.onServing) events.message(undefined, "info", await options.onServing());
    wake = startWakeLoop({
      store,
      hosts: inventory.hosts,
      intervalMs: options.wakeIntervalMs ?? DEFAULT_WAKE_INTERVAL_MS,
      driverOf: (host) => drivers.get(host.name)!,
      ...(options.selfHealing ? { selfHealing: options.selfHealing } : {}),
      onError: (name, error) =>
        events.message(name, "warn", `power control failed: ${errorText(error)}`),
    });
    for (const name of names) onPhase(name, phaseOf(name));
    const aborted = new Promise<void>((resolve) =>
      signal.aborted
        ? resolve()
        : signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    await Promise.race([finished, aborted]);
  } finally {
    wake?.stop();
    installs.abort();
    await Promise.allSettled(running);
    for (const timer of firstBootTimers.values()) clearTimeout(timer);
    await dashboard?.close();
    await server.close();
    await unknownMachines.close();
    unsubscribeNetboot();
    unsubscribeState();
    events.close();
    unsubscribeView();
    signal.removeEventListener("abort", stopInstalls);
    view.close();
  }
  return summarise(startedAt, finishedAt);
}

/** The first stages to stage: Debian's, plus every host's `first_stage` override. */
export function firstStageFilesFor(inventory: Inventory): readonly string[] {
  const overrides = inventory.hosts.flatMap((host) => (host.firstStage ? [host.firstStage] : []));
  return [...new Set([...DEBIAN_FIRST_STAGE_FILES, ...overrides])];
}
