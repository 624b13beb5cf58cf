/**
 * The order nodes are deployed in: servers one at a time with the init server last (ADR 0071),
 * then agents in batches of `parallel`. Pure: inventory in, batches out.
 */
import type { Host, Inventory } from "../inventory/types.js";
import { DeployUsageError } from "./errors.js";

export interface DeployPlan {
  /** Each batch runs at once; the next starts only when the whole batch succeeded. */
  readonly batches: readonly (readonly Host[])[];
  /** Selected hosts a previous run of this deploy already finished. */
  readonly skipped: readonly string[];
}

export interface PlanRequest {
  /** Host names to deploy; empty means every host of the inventory. */
  readonly only: readonly string[];
  readonly parallel: number;
  /** Hosts already deployed by the run being resumed. */
  readonly completed: ReadonlySet<string>;
}

export function planDeploy(inventory: Inventory, request: PlanRequest): DeployPlan {
  if (!Number.isInteger(request.parallel) || request.parallel < 1) {
    throw new DeployUsageError(
      `--parallel must be a whole number of at least 1, got ${request.parallel} (e.g. --parallel 2)`,
    );
  }
  const selected = selectHosts(inventory.hosts, request.only);
  const pending = selected.filter((host) => !request.completed.has(host.name));
  const servers = pending.filter((host) => host.role === "server");
  // The init server goes last among servers: a change that breaks a joiner costs one etcd
  // member, a broken init server is the costliest node to rebuild (ADR 0071).
  const orderedServers = [
    ...servers.filter((host) => !host.init),
    ...servers.filter((host) => host.init),
  ];
  const agents = pending.filter((host) => host.role === "agent");
  return {
    batches: [...orderedServers.map((server) => [server]), ...chunk(agents, request.parallel)],
    skipped: selected.filter((host) => request.completed.has(host.name)).map((host) => host.name),
  };
}

function selectHosts(hosts: readonly Host[], only: readonly string[]): readonly Host[] {
  if (only.length === 0) return hosts;
  const known = new Set(hosts.map((host) => host.name));
  const unknown = only.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new DeployUsageError(
      `unknown host${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}: the inventory has ` +
        `${hosts.map((host) => host.name).join(", ")}`,
    );
  }
  const wanted = new Set(only);
  return hosts.filter((host) => wanted.has(host.name));
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) {
    chunks.push(items.slice(start, start + size));
  }
  return chunks;
}
