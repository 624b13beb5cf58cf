import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SopsMissingError, HostNotInInventoryError } from "../../src/secrets/errors.js";
import { privatePaths } from "../../src/secrets/layout.js";
import { addHost, rotateHostKey } from "../../src/secrets/rotate.js";
import {
  host,
  inventory,
  snapshot,
  sopsCalls,
  workspaceForEachTest,
  SOPS_TEST_TIMEOUT,
} from "./helpers.js";

const hosts = [host("node1", 11), host("node2", 12)];
const ws = workspaceForEachTest(hosts);

const context = (env: NodeJS.ProcessEnv, list = hosts) => ({
  inventory: inventory(ws().repo, list),
  secretsDir: ws().secretsDir,
  env,
});
const read = (relative: string) => readFile(path.join(ws().repo, relative), "utf8");

describe("metal secrets rotate", { timeout: SOPS_TEST_TIMEOUT }, () => {
  it("makes a new host key, keeps the old one aside, and re-keys the files that host reads", async () => {
    const own = privatePaths(ws().secretsDir);
    const oldKey = await readFile(own.hostKey("node1"), "utf8");
    const oldPublic = await read("keys/hosts/node1.pub");
    const node2Before = await snapshot(path.join(ws().repo, "keys/hosts"));
    const callsBefore = (await sopsCalls(ws().sopsLog)).length;

    const report = await rotateHostKey(context(ws().envWithSops), "node1");

    expect(report.oldRecipient).toMatch(/^age1/);
    expect(report.newRecipient).toMatch(/^age1/);
    expect(report.newRecipient).not.toBe(report.oldRecipient);
    expect(await readFile(`${own.hostKey("node1")}.previous`, "utf8")).toBe(oldKey);
    expect((await stat(`${own.hostKey("node1")}.previous`)).mode & 0o777).toBe(0o600);
    expect(await readFile(own.hostKey("node1"), "utf8")).not.toBe(oldKey);
    expect(await read("keys/hosts/node1.pub")).not.toBe(oldPublic);
    expect((await read("keys/hosts/node1.age")).trim()).toBe(report.newRecipient);
    expect(await read(".sops.yaml")).toContain(report.newRecipient);
    expect(await read(".sops.yaml")).not.toContain(report.oldRecipient);
    expect(node2Before.get("node2.pub")?.content).toBe(await read("keys/hosts/node2.pub"));

    const updates = (await sopsCalls(ws().sopsLog))
      .slice(callsBefore)
      .map((call) => [call.argv.at(2), call.argv.at(-1)]);
    expect(updates).toEqual([
      ["updatekeys", "secrets/cluster.yaml"],
      ["updatekeys", "secrets/hosts/node1.yaml"],
    ]);
    expect(report.changes.map((change) => change.path)).toEqual([
      `${own.hostKey("node1")}.previous`,
      own.hostKey("node1"),
      "keys/hosts/node1.pub",
      "keys/hosts/node1.age",
      ".sops.yaml",
      "secrets/cluster.yaml",
      "secrets/hosts/node1.yaml",
    ]);
  });

  it("without sops stops before touching the old key", async () => {
    const before = await snapshot(ws().secretsDir);
    const error = await rotateHostKey(context(ws().envWithoutSops), "node1").catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SopsMissingError);
    expect(await snapshot(ws().secretsDir)).toEqual(before);
  });

  it("names the known hosts when the host is not in the inventory", async () => {
    await expect(rotateHostKey(context(ws().envWithSops), "node9")).rejects.toThrow(
      HostNotInInventoryError,
    );
    await expect(rotateHostKey(context(ws().envWithSops), "node9")).rejects.toThrow(
      /"node9" is not in the inventory \(hosts: node1, node2\)/,
    );
  });
});

describe("metal secrets add-host", { timeout: SOPS_TEST_TIMEOUT }, () => {
  it("gives a new inventory host a key, a rule and its own secrets file, and re-keys the cluster file", async () => {
    const callsBefore = (await sopsCalls(ws().sopsLog)).length;
    const report = await addHost(context(ws().envWithSops, [...hosts, host("node3", 13)]), "node3");

    expect(report.oldRecipient).toBeUndefined();
    expect((await read("keys/hosts/node3.age")).trim()).toBe(report.newRecipient);
    expect(await read(".sops.yaml")).toContain("secrets/hosts/node3\\.yaml");
    const calls = (await sopsCalls(ws().sopsLog)).slice(callsBefore);
    expect(calls.map((call) => [call.argv.at(2), call.argv.at(-1)])).toEqual([
      ["encrypt", "yaml"],
      ["updatekeys", "secrets/cluster.yaml"],
    ]);
    expect(calls[0]?.argv).toContain("secrets/hosts/node3.yaml");
    expect(report.changes.map((change) => change.path)).toContain("secrets/hosts/node3.yaml");
  });

  it("adds only the named host when several are new", async () => {
    const list = [...hosts, host("node3", 13), host("node4", 14)];
    await addHost(context(ws().envWithSops, list), "node3");
    expect(await read(".sops.yaml")).not.toContain("node4");
    await expect(stat(privatePaths(ws().secretsDir).hostKey("node4"))).rejects.toThrow(/ENOENT/);
  });

  it("changes nothing for a host that is already set up", async () => {
    const before = await snapshot(ws().repo);
    const report = await addHost(context(ws().envWithoutSops), "node2");
    expect(report.changes).toEqual([]);
    expect(await snapshot(ws().repo)).toEqual(before);
  });
});
