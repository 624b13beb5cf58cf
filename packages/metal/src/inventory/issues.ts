/**
 * Turns schema findings into the sentences a user reads:
 * `host "node2": mac "aa:bb" is not a valid MAC address (expected 6 hex octets, e.g. 52:54:00:12:34:56)`.
 */
import type { z } from "zod";
import type { InventoryIssue } from "./errors.js";
import { FIELDS, expectation, type FieldPath } from "./fields.js";

type Raw = Record<string, unknown>;

export function isRecord(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** `host "node2"` for the second `[[hosts]]` entry, or `hosts[2]` while it has no usable name. */
export function hostLabel(raw: unknown, index: number): string {
  const name = isRecord(raw) ? raw.name : undefined;
  return typeof name === "string" && name !== "" ? `host "${name}"` : `hosts[${index + 1}]`;
}

export function labMachineLabel(raw: unknown, index: number): string {
  const host = isRecord(raw) ? raw.host : undefined;
  return typeof host === "string" && host !== ""
    ? `lab machine "${host}"`
    : `lab.machines[${index + 1}]`;
}

/** One sentence about one field's value, ending with what a good value looks like. */
export function fieldIssue(
  where: string,
  field: string,
  value: unknown,
  problem: string,
  path: FieldPath,
): InventoryIssue {
  return {
    where,
    field,
    message: `${where}: ${field} ${show(value)} ${problem} (${expectation(path)})`,
  };
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

interface Location {
  readonly where: string;
  /** The key inside `where`, e.g. `mac`; empty when the issue is about `where` itself. */
  readonly field: string;
  /** The FIELDS key, when the issue is about a documented field. */
  readonly fieldPath: FieldPath | undefined;
  /** FIELDS prefix of the object the issue is in, for listing its known keys. */
  readonly objectPath: string;
}

function locate(root: unknown, path: readonly PropertyKey[]): Location {
  const [section, second, third] = path;
  let where: string;
  let objectPath: string;
  let fieldKey: PropertyKey | undefined;
  if (section === "hosts" && typeof second === "number" && path.length > 3) {
    // A key of a table inside a host (`power.driver`): named with its table.
    where = hostLabel(valueAt(root, ["hosts", second]), second);
    objectPath = `hosts[].${String(third)}`;
    fieldKey = `${String(third)}.${String(path[3])}`;
  } else if (section === "hosts" && typeof second === "number") {
    where = hostLabel(valueAt(root, ["hosts", second]), second);
    objectPath = "hosts[]";
    fieldKey = third;
  } else if (section === "lab" && second === "machines" && typeof third === "number") {
    where = labMachineLabel(valueAt(root, ["lab", "machines", third]), third);
    objectPath = "lab.machines[]";
    fieldKey = path[3];
  } else if (typeof section === "string" && path.length > 1) {
    where = section;
    objectPath = section;
    fieldKey = second;
  } else {
    where = "inventory";
    objectPath = "";
    fieldKey = section;
  }
  const field = fieldKey === undefined ? "" : String(fieldKey);
  // A nested table's fields are documented under the host: `hosts[].power.driver`.
  const fieldPrefix = objectPath.startsWith("hosts[].") ? "hosts[]" : objectPath;
  const candidate = fieldPrefix === "" ? field : `${fieldPrefix}.${field}`;
  const fieldPath = candidate in FIELDS ? (candidate as FieldPath) : undefined;
  return { where, field, fieldPath, objectPath };
}

/** The keys FIELDS documents directly inside `container` ("" for the top level, `hosts[]`, `lab`). */
function knownKeys(container: string): string[] {
  const prefix = container === "" ? "" : `${container}.`;
  const keys = Object.keys(FIELDS)
    .filter((key) => key.startsWith(prefix))
    .map((key) => key.slice(prefix.length).split(/[.[]/)[0]!);
  return [...new Set(keys)];
}

/** Translates one zod issue; `root` is the parsed TOML, for values and host names. */
export function fromZodIssue(root: unknown, issue: z.core.$ZodIssue): InventoryIssue {
  const { where, field, fieldPath } = locate(root, issue.path);
  const value = valueAt(root, issue.path);
  const expected = fieldPath ? ` (${expectation(fieldPath)})` : "";
  const subject = field === "" ? where : `${where}: ${field}`;

  if (issue.code === "unrecognized_keys") {
    // Located as if the first unknown key were a field, so `where` is the object holding it.
    const container = locate(root, [...issue.path, issue.keys[0] ?? ""]);
    const keys = issue.keys.map((key) => `"${key}"`).join(", ");
    const plural = issue.keys.length > 1 ? "s" : "";
    return {
      where: container.where,
      field: "",
      message: `${container.where}: unknown field${plural} ${keys} (known fields: ${knownKeys(container.objectPath).join(", ")})`,
    };
  }
  if (issue.code === "invalid_type" && value === undefined) {
    const message =
      fieldPath || where !== "inventory"
        ? `${subject} is missing${expected}`
        : `inventory: [${field}] section is missing`;
    return { where, field, message };
  }
  if (issue.code === "invalid_type") {
    return {
      where,
      field,
      message: `${subject} ${show(value)} is a ${Array.isArray(value) ? "list" : typeof value}, not a ${issue.expected}${expected}`,
    };
  }
  if (issue.code === "invalid_value") {
    const allowed = issue.values.map((v) => show(v)).join(" or ");
    return { where, field, message: `${subject} ${show(value)} is not ${allowed}${expected}` };
  }
  return { where, field, message: `${subject} ${show(value)} ${issue.message}${expected}` };
}
