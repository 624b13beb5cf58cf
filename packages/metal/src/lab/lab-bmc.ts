/**
 * Credentials of the lab's simulated BMCs: one random password per BMC machine, written where
 * `metal install` and `metal power` look for a real BMC's (SECRETS/hosts/HOST/bmc.json, 0600),
 * and handed to ipmi_sim. Kept across `metal lab up` runs, like the lab's SSH keys.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Inventory } from "../inventory/types.js";
import {
  bmcCredentialsPath,
  loadBmcCredentials,
  type BmcCredentials,
} from "../power/credentials.js";
import { ensurePrivateDir, exists, PRIVATE_FILE_MODE, writeAtomic } from "../secrets/files.js";

export const LAB_BMC_USER = "admin";
/** 12 random bytes are 16 base64url characters: inside IPMI 2.0's 20-byte password limit. */
const PASSWORD_BYTES = 12;

export interface LabBmc extends BmcCredentials {
  readonly host: string;
  readonly address: string;
}

/** The BMC of every `bmc = "ipmi"` lab machine, its credentials made when missing. */
export async function ensureLabBmcs(inventory: Inventory, secretsDir: string): Promise<LabBmc[]> {
  const bmcs: LabBmc[] = [];
  for (const machine of inventory.lab?.machines ?? []) {
    const host = inventory.hosts.find((candidate) => candidate.name === machine.host);
    if (machine.bmc !== "ipmi" || host?.power?.driver !== "ipmi") continue;
    const file = bmcCredentialsPath(secretsDir, host.name);
    if (!(await exists(file))) {
      await ensurePrivateDir(path.dirname(file));
      const credentials: BmcCredentials = {
        username: LAB_BMC_USER,
        password: randomBytes(PASSWORD_BYTES).toString("base64url"),
      };
      await writeAtomic(file, `${JSON.stringify(credentials)}\n`, PRIVATE_FILE_MODE);
    }
    const credentials = await loadBmcCredentials(secretsDir, host.name);
    bmcs.push({ host: host.name, address: host.power.address, ...credentials });
  }
  return bmcs;
}
