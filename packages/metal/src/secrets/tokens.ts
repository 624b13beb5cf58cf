/**
 * Random shared secrets: the k3s server token and each node's k3s password. The token uses
 * k3s's short format (the bare password): the secure `K10<CA hash>::server:<password>` form needs
 * the hash of a cluster CA that does not exist until the first server has started
 * (docs.k3s.io/cli/token; ADR 0082).
 */
import { randomBytes } from "node:crypto";

/** 256 bits, printed as lower-case hex: alphanumeric, with no `.` or `:` for k3s to misparse. */
const SECRET_BYTES = 32;

export function generateSecret(): string {
  return randomBytes(SECRET_BYTES).toString("hex");
}
