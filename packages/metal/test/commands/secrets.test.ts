import path from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { secretsCommand } from "../../src/commands/secrets.js";
import {
  host,
  inventory,
  SOPS_TEST_TIMEOUT,
  workspace,
  type Workspace,
} from "../secrets/helpers.js";

let ws: Workspace;
beforeEach(async () => {
  ws = await workspace();
}, SOPS_TEST_TIMEOUT);
afterEach(async () => {
  vi.restoreAllMocks();
  await ws.dispose();
});

async function metal(env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
  const loaded: string[] = [];
  const program = new Command("metal").exitOverride();
  secretsCommand({
    loadInventory: (file) => {
      loaded.push(file);
      return inventory(ws.repo, [host("node1", 11), host("node2", 12)]);
    },
    env: { ...env, METAL_SECRETS_DIR: ws.secretsDir },
  })(program);
  let output = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    output += String(chunk);
    return true;
  });
  await program.parseAsync(["node", "metal", "secrets", ...args]);
  vi.restoreAllMocks();
  expect(loaded).toEqual([path.resolve(path.join(ws.repo, "cluster.toml"))]);
  return output;
}

describe("metal secrets (command line)", { timeout: SOPS_TEST_TIMEOUT }, () => {
  it("init prints what it made, then a rerun prints that nothing changed", async () => {
    const inventoryFlag = ["--inventory", path.join(ws.repo, "cluster.toml")];
    const first = await metal(ws.envWithSops, "init", ...inventoryFlag);
    expect(first).toMatch(/^metal secrets init:\n/);
    expect(first).toMatch(
      /created\s+secrets\/cluster\.yaml\s+encrypted with sops for admin \+ 2 host\(s\): node1, node2/,
    );
    expect(first).toContain(`<secrets-dir> = ${ws.secretsDir} (private keys`);
    expect(first).toMatch(
      /created\s+<secrets-dir>\/hosts\/node1\/ssh_host_ed25519_key\s+SSH host key of node1/,
    );
    const second = await metal(ws.envWithoutSops, "init", ...inventoryFlag);
    expect(second).toContain("nothing changed");
  });

  it("rotate prints the old and new recipient and how the host gets its new key", async () => {
    const inventoryFlag = ["--inventory", path.join(ws.repo, "cluster.toml")];
    await metal(ws.envWithSops, "init", ...inventoryFlag);
    const output = await metal(ws.envWithSops, "rotate", "node2", ...inventoryFlag);
    expect(output).toMatch(/age recipient of node2: age1\w+ -> age1\w+/);
    expect(output).toMatch(/re-encrypted\s+secrets\/hosts\/node2\.yaml/);
    expect(output).toContain("metal install --reinstall node2");
  });

  it("without sops fails with the reason and the fix, before writing", async () => {
    await expect(
      metal(ws.envWithoutSops, "init", "--inventory", path.join(ws.repo, "cluster.toml")),
    ).rejects.toThrow(/sops is not on PATH.*devShell/);
  });
});
