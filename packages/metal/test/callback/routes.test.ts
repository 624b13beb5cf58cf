import Fastify, { type FastifyInstance } from "fastify";
import type { Mac } from "netboot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createBootPolicy } from "../../src/boot/policy.js";
import { registerCallbackRoutes } from "../../src/callback/routes.js";
import { mintFirstBootToken, TOKEN_LIFETIME_MS } from "../../src/callback/tokens.js";
import { fixture, walkTo, type Fixture } from "../helpers.js";

const NODE1_MAC = "52:54:00:77:00:01";
const NODE2_MAC = "52:54:00:77:00:02";
const GIB = 1024 ** 3;
const KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJx5Y0bq2rQm0f7G2lGm8x9cN2H7lq6Y2xK1o9cQv0aB root@nixos";
const OTHER_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKey00 root@node1";

function facts(overrides: Record<string, unknown> = {}) {
  return {
    agent: "metal-agent/1",
    mac: NODE1_MAC,
    ip: "10.77.0.143",
    hostname: "nixos",
    sshHostKey: KEY,
    firmware: "uefi",
    memoryBytes: 512 * 1024 ** 2,
    disks: [
      { name: "vda", path: "/dev/vda", sizeBytes: 4 * GIB, byId: ["/dev/disk/by-id/virtio-node1"] },
    ],
    ...overrides,
  };
}

describe("callback API", () => {
  let f: Fixture;
  let app: FastifyInstance;
  let hostKeys: Map<string, string>;

  /** Boots node1 through the policy as the netboot server would and returns its installer token. */
  async function installerToken(mac = NODE1_MAC): Promise<string> {
    const policy = await createBootPolicy({
      inventory: f.inventory,
      store: f.store,
      installerDir: f.installerDir,
      callbackBaseUrl: "http://10.77.0.2:8080/callback/v1",
      clock: () => f.now,
    });
    await policy({ mac: mac as Mac, stage: "dhcp" });
    const decision = await policy({ mac: mac as Mac, stage: "script" });
    if (decision.action !== "boot") throw new Error("expected the installer");
    return /metal\.token=(\S+)/.exec(decision.spec.cmdline ?? "")![1]!;
  }

  const post = (path: string, token: string | undefined, body: unknown) =>
    app.inject({
      method: "POST",
      url: `/callback/v1/${path}`,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      payload: body as Record<string, unknown>,
    });

  beforeEach(async () => {
    f = await fixture();
    hostKeys = new Map();
    app = Fastify();
    await registerCallbackRoutes(app, {
      inventory: f.inventory,
      store: f.store,
      clock: () => f.now,
      expectedHostKey: async (host) => hostKeys.get(host),
    });
  });
  afterEach(async () => {
    await app.close();
    await f.cleanup();
  });

  it("accepts good facts, pins the SSH host key and moves the host to installer", async () => {
    const token = await installerToken();
    const response = await post("installer", token, facts());
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ host: "node1", status: "accepted" });
    const host = f.store.host("node1");
    expect(host?.phase).toBe("installer");
    expect(host?.installer).toMatchObject({ sshHostKey: KEY, ip: "10.77.0.143" });
    expect(host?.tokens.installer?.usedAt).toBe(f.now);
  });

  it("accepts the configured disk by its by-id link", async () => {
    const byIdInventory = {
      ...f.inventory,
      hosts: f.inventory.hosts.map((h) =>
        h.name === "node1" ? { ...h, disk: "/dev/disk/by-id/virtio-node1" } : h,
      ),
    };
    await app.close();
    app = Fastify();
    await registerCallbackRoutes(app, {
      inventory: byIdInventory,
      store: f.store,
      clock: () => f.now,
    });
    expect((await post("installer", await installerToken(), facts())).statusCode).toBe(200);
  });

  it("rejects a missing, forged or malformed token with 401", async () => {
    await installerToken();
    const missing = await post("installer", undefined, facts());
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toEqual({ error: "missing bearer token" });
    const forged = await post(
      "installer",
      "mt1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      facts(),
    );
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error).toMatch(/^unknown installer token/);
    expect((await post("installer", "mt1.<script>", facts())).statusCode).toBe(401);
    expect(f.store.host("node1")?.phase).toBe("pxe");
  });

  it("rejects a replayed token with 401", async () => {
    const token = await installerToken();
    expect((await post("installer", token, facts())).statusCode).toBe(200);
    const replay = await post("installer", token, facts());
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error).toBe('token of host "node1" was already used (a replay)');
  });

  it("rejects an expired token with 401", async () => {
    const token = await installerToken();
    f.now += TOKEN_LIFETIME_MS.installer;
    const response = await post("installer", token, facts());
    expect(response.statusCode).toBe(401);
    expect(response.json().error).toMatch(/^token of host "node1" expired at /);
  });

  it("rejects another host's token with 401", async () => {
    const token = await installerToken(NODE1_MAC);
    const response = await post("installer", token, facts({ mac: NODE2_MAC }));
    expect(response.statusCode).toBe(401);
    expect(response.json().error).toBe(
      `token belongs to host "node1", but MAC ${NODE2_MAC} is host "node2"'s`,
    );
    expect(f.store.host("node1")?.phase).toBe("pxe");
  });

  it("answers 409 when the MAC that booted is not the host's", async () => {
    const response = await post(
      "installer",
      await installerToken(),
      facts({ mac: "52-54-00-AA-BB-CC" }),
    );
    expect(response.statusCode).toBe(409);
    expect(response.json().error).toBe(
      'host "node1": MAC 52:54:00:aa:bb:cc booted, but the inventory says 52:54:00:77:00:01. Fix hosts.mac in the inventory',
    );
  });

  it("answers 409 when the configured disk is too small, and keeps the reason as the host's last step", async () => {
    const small = facts({ disks: [{ name: "vda", path: "/dev/vda", sizeBytes: 2 * GIB }] });
    const response = await post("installer", await installerToken(), small);
    expect(response.statusCode).toBe(409);
    expect(response.json().error).toBe(
      'host "node1": disk /dev/vda has 2 GiB, less than the 3 GiB the partitions need (ESP 1G + root 1G + 1 GiB minimum for Ceph + GPT). Use a bigger disk or a smaller root_size',
    );
    expect(f.store.host("node1")).toMatchObject({
      phase: "pxe",
      lastStep: `callback refused: ${response.json().error}`,
    });
  });

  it("answers 409 when the configured disk is missing, listing the disks it found", async () => {
    const other = facts({ disks: [{ name: "sda", path: "/dev/sda", sizeBytes: 500 * GIB }] });
    const response = await post("installer", await installerToken(), other);
    expect(response.statusCode).toBe(409);
    expect(response.json().error).toBe(
      'host "node1": configured disk /dev/vda is not on this machine; it has /dev/sda (500 GiB). Fix hosts.disk in the inventory',
    );
  });

  it("answers 400 for a body that does not follow the protocol", async () => {
    const token = await installerToken();
    const response = await post(
      "installer",
      token,
      facts({ sshHostKey: "not a key", memoryBytes: "lots" }),
    );
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatch(
      /^body does not follow the callback protocol: sshHostKey: is not an OpenSSH public key line; memoryBytes: /,
    );
    const notJson = await app.inject({
      method: "POST",
      url: "/callback/v1/installer",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      payload: "{nope",
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error).toMatch(/^bad request body/);
    // A bad body does not use the token up.
    expect((await post("installer", token, facts())).statusCode).toBe(200);
  });

  describe("first boot", () => {
    async function installedWithToken(): Promise<string> {
      expect((await post("installer", await installerToken(), facts())).statusCode).toBe(200);
      await walkTo(f.store, "node1", "installing");
      const token = await mintFirstBootToken(f.store, "node1", () => f.now);
      await f.store.change("node1", {
        expect: "installing",
        to: "installed",
        step: "install done",
      });
      return token;
    }
    const firstBoot = (overrides: Record<string, unknown> = {}) => ({
      agent: "metal-agent/1",
      mac: NODE1_MAC,
      ip: "10.77.0.11",
      sshHostKey: KEY,
      ...overrides,
    });

    it("moves an installed host to ready when its key is the pre-generated one", async () => {
      hostKeys.set("node1", `${KEY.split(" ").slice(0, 2).join(" ")} root@node1`);
      const token = await installedWithToken();
      const response = await post("first-boot", token, firstBoot());
      expect(response.statusCode).toBe(200);
      expect(f.store.host("node1")?.phase).toBe("ready");
      expect((await post("first-boot", token, firstBoot())).statusCode).toBe(401);
    });

    it("answers 409 when the running system's key is not the pre-generated one", async () => {
      hostKeys.set("node1", OTHER_KEY);
      const response = await post("first-boot", await installedWithToken(), firstBoot());
      expect(response.statusCode).toBe(409);
      expect(f.store.host("node1")?.phase).toBe("installed");
    });

    it("answers 503 with Retry-After while the install is still finishing", async () => {
      expect((await post("installer", await installerToken(), facts())).statusCode).toBe(200);
      await walkTo(f.store, "node1", "installing");
      const token = await mintFirstBootToken(f.store, "node1", () => f.now);
      const response = await post("first-boot", token, firstBoot());
      expect(response.statusCode).toBe(503);
      expect(response.headers["retry-after"]).toBe("5");
    });

    it("does not take an installer token", async () => {
      const token = await installerToken();
      expect((await post("first-boot", token, firstBoot())).statusCode).toBe(401);
    });
  });

  it("serves the same answers over a real listener on 127.0.0.1", async () => {
    const token = await installerToken();
    const address = await app.listen({ host: "127.0.0.1", port: 0 });
    const send = (auth: string) =>
      fetch(`${address}/callback/v1/installer`, {
        method: "POST",
        headers: { authorization: auth, "content-type": "application/json" },
        body: JSON.stringify(facts()),
      });
    const forged = await send("Bearer mt1.forgedforgedforgedforgedforgedforgedforged12");
    expect(forged.status).toBe(401);
    const accepted = await send(`Bearer ${token}`);
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ host: "node1", status: "accepted" });
    const replayed = await send(`Bearer ${token}`);
    expect(replayed.status).toBe(401);
    expect(await replayed.json()).toEqual({
      error: 'token of host "node1" was already used (a replay)',
    });
  });
});
