import { execFileSync } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ageRecipientFromSshPublicKey } from "../../src/secrets/age.js";
import { SopsMissingError } from "../../src/secrets/errors.js";
import { privatePaths } from "../../src/secrets/layout.js";
import { filesContaining, leakMarkers } from "../../src/secrets/leak-markers.js";
import { reconcileSecrets } from "../../src/secrets/reconcile.js";
import { recipientsOfEncryptedFile } from "../../src/secrets/sops.js";
import {
  host,
  inventory,
  snapshot,
  sopsCalls,
  workspaceForEachTest,
  SOPS_TEST_TIMEOUT,
} from "./helpers.js";

const hosts = [host("node1", 11), host("node2", 12)];
const ws = workspaceForEachTest();

const init = (env: NodeJS.ProcessEnv, list = hosts) =>
  reconcileSecrets({ inventory: inventory(ws().repo, list), secretsDir: ws().secretsDir, env });

async function modeOf(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

describe("metal secrets init", { timeout: SOPS_TEST_TIMEOUT }, () => {
  it("without sops says so, names the devShell, and writes nothing at all", async () => {
    const error = await init(ws().envWithoutSops).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SopsMissingError);
    expect((error as Error).message).toMatch(
      /sops is not on PATH.*secrets\/cluster\.yaml.*nix develop/,
    );
    expect([...(await snapshot(ws().repo)).keys()]).toEqual(["cluster.toml"]);
    await expect(stat(ws().secretsDir)).rejects.toThrow(/ENOENT/);
  });

  it("keeps private keys outside the repository with modes 0600 and 0700", async () => {
    await init(ws().envWithSops);
    const own = privatePaths(ws().secretsDir);
    for (const dir of [ws().secretsDir, own.adminDir, own.hostsDir, own.hostDir("node1")]) {
      expect(await modeOf(dir)).toBe(0o700);
    }
    for (const file of [
      own.adminSshKey,
      own.adminAgeKey,
      own.hostKey("node1"),
      own.hostKey("node2"),
    ]) {
      expect(await modeOf(file)).toBe(0o600);
    }
    expect([...(await snapshot(ws().repo)).keys()].sort()).toEqual([
      ".sops.yaml",
      "cluster.toml",
      "keys/",
      "keys/admin.age",
      "keys/admin.pub",
      "keys/hosts/",
      "keys/hosts/node1.age",
      "keys/hosts/node1.pub",
      "keys/hosts/node2.age",
      "keys/hosts/node2.pub",
      "secrets/",
      "secrets/cluster.yaml",
      "secrets/hosts/",
      "secrets/hosts/node1.yaml",
      "secrets/hosts/node2.yaml",
    ]);
  });

  it("puts no private key, age identity or token into the repository tree", async () => {
    await init(ws().envWithSops);
    const calls = await sopsCalls(ws().sopsLog);
    const secrets = calls.flatMap((call) => Object.values(parse(call.stdin ?? "{}") as object));
    expect(secrets).toHaveLength(3); // the k3s token and two node passwords
    const markers = [...(await leakMarkers(ws().secretsDir)), ...secrets.map(String)];
    // 2 headers, seed hex + base64 for 3 SSH keys, the admin age identity, 3 secrets
    expect(markers).toHaveLength(2 + 3 * 2 + 1 + 3);
    expect(await filesContaining(ws().secretsDir, markers)).toHaveLength(4);
    expect(await filesContaining(ws().repo, markers)).toEqual([]);
  });

  it("sends plaintext to sops only on stdin, with the repository path choosing the rule", async () => {
    await init(ws().envWithSops);
    const encrypts = (await sopsCalls(ws().sopsLog)).filter((call) =>
      call.argv.includes("encrypt"),
    );
    expect(
      encrypts.map((call) => call.argv.at(call.argv.indexOf("--filename-override") + 1)),
    ).toEqual(["secrets/cluster.yaml", "secrets/hosts/node1.yaml", "secrets/hosts/node2.yaml"]);
    for (const call of encrypts) {
      expect(call.cwd).toBe(ws().repo);
      expect(call.argv.slice(0, 2)).toEqual(["--config", path.join(ws().repo, ".sops.yaml")]);
      expect(call.stdin).toMatch(/^(k3s_token|k3s_node_password): [0-9a-f]{64}\n$/);
    }
  });

  it("writes creation rules: cluster secrets to the admin and every host, host secrets to the admin and that host", async () => {
    await init(ws().envWithSops);
    const config = parse(await readFile(path.join(ws().repo, ".sops.yaml"), "utf8")) as {
      creation_rules: Array<{ path_regex: string; key_groups: Array<{ age: string[] }> }>;
    };
    const admin = (await readFile(path.join(ws().repo, "keys/admin.age"), "utf8")).trim();
    const recipient = async (name: string) =>
      ageRecipientFromSshPublicKey(
        await readFile(path.join(ws().repo, `keys/hosts/${name}.pub`), "utf8"),
      );
    const rulesFor = (file: string) =>
      config.creation_rules.filter((rule) => new RegExp(rule.path_regex).test(file));
    for (const file of ["secrets/cluster.yaml", `${ws().repo}/secrets/cluster.yaml`]) {
      expect(rulesFor(file).map((rule) => rule.key_groups[0]?.age)).toEqual([
        [admin, await recipient("node1"), await recipient("node2")],
      ]);
    }
    expect(rulesFor("secrets/hosts/node2.yaml").map((rule) => rule.key_groups[0]?.age)).toEqual([
      [admin, await recipient("node2")],
    ]);
    expect(rulesFor("secrets/hosts/node22.yaml")).toEqual([]);
  });

  it("publishes recipients that equal the ones derived from the host keys", async () => {
    await init(ws().envWithSops);
    const own = privatePaths(ws().secretsDir);
    const fromKey = execFileSync("ssh-keygen", ["-y", "-f", own.hostKey("node1")], {
      encoding: "utf8",
    });
    expect((await readFile(path.join(ws().repo, "keys/hosts/node1.age"), "utf8")).trim()).toBe(
      ageRecipientFromSshPublicKey(fromKey),
    );
  });

  it("changes nothing on a rerun: same bytes, same modes, same mtimes, and no sops needed", async () => {
    await init(ws().envWithSops);
    const repoBefore = await snapshot(ws().repo);
    const privateBefore = await snapshot(ws().secretsDir);
    const callsBefore = (await sopsCalls(ws().sopsLog)).length;
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(await init(ws().envWithoutSops)).toEqual([]);
    expect(await init(ws().envWithSops)).toEqual([]);

    expect(await snapshot(ws().repo)).toEqual(repoBefore);
    expect(await snapshot(ws().secretsDir)).toEqual(privateBefore);
    expect((await sopsCalls(ws().sopsLog)).length).toBe(callsBefore);
  });

  it("refuses to replace a published key whose private half is not in the secrets directory", async () => {
    await init(ws().envWithSops);
    const elsewhere = path.join(ws().root, "other-secrets");
    const error = await reconcileSecrets({
      inventory: inventory(ws().repo, hosts),
      secretsDir: elsewhere,
      env: ws().envWithSops,
    }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /keys\/admin\.pub exists but its private key .* --secrets-dir/,
    );
    await expect(stat(elsewhere)).rejects.toThrow(/ENOENT/);
  });

  it("re-keys the cluster file without a host that left the inventory", async () => {
    await init(ws().envWithSops, [...hosts, host("node3", 13)]);
    const node3 = (await readFile(path.join(ws().repo, "keys/hosts/node3.age"), "utf8")).trim();
    const changes = await init(ws().envWithSops, hosts);
    expect(changes).toEqual([
      { path: ".sops.yaml", action: "updated", what: "sops creation rules" },
      {
        path: "secrets/cluster.yaml",
        action: "re-encrypted",
        what: "sops updatekeys: admin + 2 host(s): node1, node2",
      },
    ]);
    const cluster = await readFile(path.join(ws().repo, "secrets/cluster.yaml"), "utf8");
    expect(recipientsOfEncryptedFile(cluster)).not.toContain(node3);
    expect(await readFile(path.join(ws().repo, ".sops.yaml"), "utf8")).not.toContain(node3);
  });

  it("re-keys the cluster file when the inventory gains a host", async () => {
    await init(ws().envWithSops);
    const clusterBefore = await readFile(path.join(ws().repo, "secrets/cluster.yaml"), "utf8");
    const changes = await init(ws().envWithSops, [...hosts, host("node3", 13)]);
    expect(changes.map((c) => c.path)).toContain("secrets/hosts/node3.yaml");
    expect(changes).toContainEqual({
      path: "secrets/cluster.yaml",
      action: "re-encrypted",
      what: "sops updatekeys: admin + 3 host(s): node1, node2, node3",
    });
    const updates = (await sopsCalls(ws().sopsLog)).filter((call) =>
      call.argv.includes("updatekeys"),
    );
    expect(updates.map((call) => call.argv.at(-1))).toEqual(["secrets/cluster.yaml"]);
    expect(updates[0]?.ageKeyFile).toBe(privatePaths(ws().secretsDir).adminAgeKey);
    expect(await readFile(path.join(ws().repo, "secrets/cluster.yaml"), "utf8")).not.toBe(
      clusterBefore,
    );
  });
});
