/**
 * Reads `cluster.toml` into the validated Inventory. Every problem in the file is reported at
 * once (InventoryError lists them), each naming where, the field, the value and a good example.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { crossChecks } from "./cross-checks.js";
import { InventoryError, type InventoryIssue } from "./errors.js";
import { fromZodIssue } from "./issues.js";
import { inventorySchema, type InventoryDocument } from "./schema.js";
import type { Host, Inventory } from "./types.js";

/** Where `metal` looks when no `--inventory` is given. */
export const DEFAULT_INVENTORY_FILE = "cluster.toml";

function toInventory(source: string, doc: InventoryDocument): Inventory {
  const hosts: Host[] = doc.hosts.map((host) => ({
    name: host.name,
    mac: host.mac,
    address: host.ip.address,
    prefixLength: host.ip.prefixLength,
    role: host.role,
    init: host.init,
    disk: host.disk,
    arch: host.arch,
    firstStage: host.first_stage,
    rootSize: host.root_size ?? doc.install.root_size,
    interface: host.interface,
    // cross-checks.ts guarantees the address with driver "ipmi".
    power:
      host.power?.driver === "ipmi"
        ? { driver: "ipmi", address: host.power.address! }
        : { driver: "wol" },
  }));
  return {
    source,
    cluster: {
      name: doc.cluster.name,
      domain: doc.cluster.domain,
      flake: doc.cluster.flake,
      gitopsRepo: doc.cluster.gitops_repo,
    },
    network: { ...doc.network },
    k3s: { disable: doc.k3s.disable, extraFlags: doc.k3s.extra_flags },
    install: {
      rootSize: doc.install.root_size,
      parallel: doc.install.parallel,
      retries: doc.install.retries,
      command: doc.install.command,
    },
    hosts,
    lab: doc.lab && {
      machines: doc.lab.machines.map((machine) => ({
        host: machine.host,
        firmware: machine.firmware,
        boot: machine.boot,
        diskSize: machine.disk_size,
        memory: machine.memory,
        bmc: machine.bmc,
      })),
    },
  };
}

/** Validates inventory text; `source` names the file in messages and anchors relative paths. */
export function parseInventory(text: string, source: string): Inventory {
  let root: unknown;
  try {
    root = parseToml(text);
  } catch (error) {
    const where =
      error instanceof TomlError ? ` at line ${error.line}, column ${error.column}` : "";
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new InventoryError(source, [
      { where: "inventory", field: "", message: `inventory: not valid TOML${where}: ${reason}` },
    ]);
  }
  const result = inventorySchema.safeParse(root);
  const issues: InventoryIssue[] = [
    ...(result.success ? [] : result.error.issues.map((issue) => fromZodIssue(root, issue))),
    ...crossChecks(root as Record<string, unknown>),
  ];
  if (issues.length > 0 || !result.success) throw new InventoryError(source, issues);
  return toInventory(source, result.data);
}

export async function loadInventory(path: string): Promise<Inventory> {
  const source = resolve(path);
  let text: string;
  try {
    text = await readFile(source, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "file not found (create it from examples/homelab.toml, or pass --inventory FILE)"
        : `cannot be read (${code ?? String(error)})`;
    throw new InventoryError(source, [
      { where: "inventory", field: "", message: `inventory: ${reason}` },
    ]);
  }
  return parseInventory(text, source);
}
