/**
 * Powers on every host still waiting to boot, through its power driver, and heals the ones that
 * get stuck. The first power-on moves `pending` to `waking`. A driver that can only power on
 * (Wake-on-LAN) is asked again every interval until the host's first DHCP packet moves it to
 * `pxe` (packets get lost, NICs wake slowly). A driver that can power-cycle (a BMC) is asked once;
 * then a host that sends no DHCP packet within the DHCP timeout of its power-on, or whose
 * installer does not call back within the callback timeout of its PXE boot, is power-cycled, up
 * to a number of times, each cycle a step in its timeline, before it fails with the reason.
 */
import type { Host } from "../inventory/types.js";
import type { PowerDriver } from "../power/driver.js";
import { PhaseConflictError } from "../state/errors.js";
import { move, stay } from "../state/lifecycle.js";
import type { StateStore } from "../state/store.js";
import type { Phase } from "../state/types.js";

export const DEFAULT_WAKE_INTERVAL_MS = 15_000;
/** Server firmware can POST for minutes (memory training, RAID option ROMs) before it PXE-boots. */
export const DEFAULT_DHCP_TIMEOUT_MS = 5 * 60_000;
/** From the first DHCP packet to the installer's callback: kernel + initrd download and boot. */
export const DEFAULT_CALLBACK_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_MAX_POWER_CYCLES = 2;
const WAITING_FOR_POWER: readonly Phase[] = ["pending", "waking"];
const MS_PER_SECOND = 1000;

export interface SelfHealing {
  /** No DHCP packet this long after a power-on: cycle. */
  readonly dhcpTimeoutMs: number;
  /** In `pxe` this long without the installer's callback: cycle. */
  readonly callbackTimeoutMs: number;
  /** Cycles before the host fails; 0 fails it at the first timeout. */
  readonly maxPowerCycles: number;
}

export const DEFAULT_SELF_HEALING: SelfHealing = {
  dhcpTimeoutMs: DEFAULT_DHCP_TIMEOUT_MS,
  callbackTimeoutMs: DEFAULT_CALLBACK_TIMEOUT_MS,
  maxPowerCycles: DEFAULT_MAX_POWER_CYCLES,
};

export interface WakeLoopOptions {
  readonly store: StateStore;
  readonly hosts: readonly Host[];
  readonly intervalMs: number;
  /** Each host's driver, built at the command edge. */
  readonly driverOf: (host: Host) => PowerDriver;
  readonly selfHealing?: SelfHealing;
  readonly now?: () => number;
  /** A power operation that failed (the loop keeps going: the next round may work). */
  readonly onError?: (host: string, error: unknown) => void;
}

export interface WakeLoop {
  stop(): void;
}

interface Tracked {
  /** When metal last powered the host on or cycled it. */
  poweredAt: number | undefined;
  cycles: number;
}

function seconds(ms: number): string {
  return `${Math.round(ms / MS_PER_SECOND)} s`;
}

export function startWakeLoop(options: WakeLoopOptions): WakeLoop {
  const { store } = options;
  const healing = options.selfHealing ?? DEFAULT_SELF_HEALING;
  const now = options.now ?? Date.now;
  const tracked = new Map<string, Tracked>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  function trackOf(name: string): Tracked {
    let track = tracked.get(name);
    if (!track) tracked.set(name, (track = { poweredAt: undefined, cycles: 0 }));
    return track;
  }

  async function powerOn(host: Host, driver: PowerDriver, track: Tracked): Promise<void> {
    await driver.on();
    track.poweredAt = now();
    if (store.host(host.name)?.phase === "pending")
      await store.change(host.name, move("wakeSent", driver.powerOnStep));
  }

  /** A stuck host: cycle it while the budget lasts, then fail it with the reason. */
  async function heal(
    host: Host,
    driver: PowerDriver,
    track: Tracked,
    phase: Phase,
    why: string,
  ): Promise<void> {
    if (track.cycles >= healing.maxPowerCycles) {
      await store.change(
        host.name,
        move("fail", "gave up: stuck after power cycles", {
          from: phase,
          reason:
            `${why}, after ${track.cycles} power cycle${track.cycles === 1 ? "" : "s"}; ` +
            "check its console through the BMC (does it PXE-boot? is the NIC first in the boot order?)",
        }),
      );
      return;
    }
    track.cycles++;
    await driver.cycle();
    track.poweredAt = now();
    await store.change(
      host.name,
      stay(phase, `power cycle ${track.cycles} of ${healing.maxPowerCycles}: ${why}`),
    );
  }

  async function tend(host: Host): Promise<void> {
    const record = store.host(host.name);
    if (!record) return;
    const driver = options.driverOf(host);
    const track = trackOf(host.name);
    const canCycle = driver.supports.has("cycle");
    try {
      if (WAITING_FOR_POWER.includes(record.phase)) {
        if (track.poweredAt === undefined || !canCycle) await powerOn(host, driver, track);
        else if (now() - track.poweredAt >= healing.dhcpTimeoutMs)
          await heal(
            host,
            driver,
            track,
            record.phase,
            `no DHCP packet within ${seconds(healing.dhcpTimeoutMs)} of power-on`,
          );
      } else if (record.phase === "pxe" && canCycle) {
        const since = Math.max(record.since, track.poweredAt ?? 0);
        if (now() - since >= healing.callbackTimeoutMs)
          await heal(
            host,
            driver,
            track,
            "pxe",
            `the installer did not call back within ${seconds(healing.callbackTimeoutMs)} of its PXE boot`,
          );
      }
    } catch (error) {
      // The host can move on between the look and the change: nothing to do then.
      if (!(error instanceof PhaseConflictError)) options.onError?.(host.name, error);
    }
  }

  const needsCare = (host: Host) => {
    const phase = store.host(host.name)?.phase;
    return phase !== undefined && (WAITING_FOR_POWER.includes(phase) || phase === "pxe");
  };

  async function round(): Promise<void> {
    const waiting = options.hosts.filter(needsCare);
    if (waiting.length === 0 || stopped) return;
    await Promise.all(waiting.map(tend));
    if (!stopped) timer = setTimeout(() => void round(), options.intervalMs);
  }

  void round();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
