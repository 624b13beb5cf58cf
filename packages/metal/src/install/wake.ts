/**
 * Wake-on-LAN for every host still waiting to boot: one magic packet at once, then again every
 * interval (packets get lost, NICs wake slowly) until the host's first DHCP packet moves it on
 * to `pxe`. The first packet moves `pending` to `waking`.
 */
import type { Host } from "../inventory/types.js";
import { PhaseConflictError } from "../state/errors.js";
import type { StateStore } from "../state/store.js";
import type { Phase } from "../state/types.js";

export const DEFAULT_WAKE_INTERVAL_MS = 15_000;
const WAITING_TO_BOOT: readonly Phase[] = ["pending", "waking"];

export interface WakeLoopOptions {
  readonly store: StateStore;
  readonly hosts: readonly Host[];
  readonly intervalMs: number;
  /** Sends one magic packet to `mac` (sendWakeOnLan on the served interface). */
  readonly send: (mac: string) => Promise<void>;
  /** A send that failed (the loop keeps going: the next round may work). */
  readonly onError?: (host: string, error: unknown) => void;
}

export interface WakeLoop {
  stop(): void;
}

export function startWakeLoop(options: WakeLoopOptions): WakeLoop {
  const { store } = options;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function wake(host: Host): Promise<void> {
    try {
      await options.send(host.mac);
      if (store.host(host.name)?.phase === "pending") {
        await store.change(host.name, {
          expect: "pending",
          to: "waking",
          step: "Wake-on-LAN sent",
        });
      }
    } catch (error) {
      // The DHCP packet can land between the send and the change: nothing to do then.
      if (!(error instanceof PhaseConflictError)) options.onError?.(host.name, error);
    }
  }

  async function round(): Promise<void> {
    const waiting = options.hosts.filter((host) => {
      const phase = store.host(host.name)?.phase;
      return phase !== undefined && WAITING_TO_BOOT.includes(phase);
    });
    if (waiting.length === 0 || stopped) return;
    await Promise.all(waiting.map(wake));
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
