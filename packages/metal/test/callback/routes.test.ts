import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerCallbackRoutes } from "../../src/callback/routes.js";
import { mintFirstBootToken, TOKEN_LIFETIME_MS } from "../../src/callback/tokens.js";
import { fixture, walkTo, type Fixture } from "../helpers.js";
import { wiredPolicy } from "../helpers/pxe-boot.js";

const NODE1_MAC = "52:54:00:77:00:01";
const NODE2_MAC = "52:54:00:77:00:02";
const GIB = 1024 ** 3;
/** Where node1's installer runs (its DHCP address) and calls back from. */
const INSTALLER_IP = "10.77.0.143";
const SERVER_IP = "10.77.0.2";
const KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJx5Y0bq2rQm0f7G2lGm8x9cN2H7lq6Y2xK1o9cQv0aB root@nixos";
const OTHER_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKey00 root@node1";

function facts(overrides: Record<string, unknown> = {}) {
  return {
    agent: "metal-agent/1",
    mac: NODE1_MAC,
    ip: INSTALLER_IP,
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
    const wired = await wiredPolicy({
      inventory: f.inventory,
      store: f.store,
      installerDir: f.installerDir,
      callbackBaseUrl: `http://${SERVER_IP}:8080/callback/v1`,
      clock: () => f.now,
    });
    const token = await wired.pxeBoot(mac, INSTALLER_IP);
    if (token === undefined) throw new Error("expected the installer");
    return token;
  }

  const post = (path: string, token: string | undefined, body: unknown, from = INSTALLER_IP) =>
    app.inject({
      method: "POST",
      remoteAddress: from,
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
      serverAddress: SERVER_IP,
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
      serverAddress: SERVER_IP,
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
      'host "node1": the configured install disk is too small; see metal status on the admin machine',
    );
    expect(f.store.host("node1")).toMatchObject({
      phase: "pxe",
      lastStep:
        'callback refused: host "node1": disk /dev/vda has 2 GiB, less than the 3 GiB the partitions need (ESP 1G + root 1G + 1 GiB minimum for Ceph + GPT). Use a bigger disk or a smaller root_size',
    });
  });

  it("answers 409 when the configured disk is missing without echoing the inventory's disk; the operator's step lists the disks found", async () => {
    const other = facts({ disks: [{ name: "sda", path: "/dev/sda", sizeBytes: 500 * GIB }] });
    const response = await post("installer", await installerToken(), other);
    expect(response.statusCode).toBe(409);
    expect(response.json().error).toBe(
      'host "node1": the configured install disk is not on this machine; see metal status on the admin machine',
    );
    expect(response.body).not.toContain("/dev/vda");
    expect(f.store.host("node1")?.lastStep).toBe(
      'callback refused: host "node1": configured disk /dev/vda is not on this machine; it has /dev/sda (500 GiB). Fix hosts.disk in the inventory',
    );
  });

  it("refuses with 403 a callback from an address its facts do not name", async () => {
    const response = await post("installer", await installerToken(), facts(), "10.77.0.66");
    expect(response.statusCode).toBe(403);
    expect(response.json().error).toBe(
      'host "node1": the facts name 10.77.0.143, but the callback came from 10.77.0.66; the installer must call back from the address the install connects to',
    );
    expect(f.store.host("node1")?.phase).toBe("pxe");
    expect(f.store.host("node1")?.installer).toBeUndefined();
  });

  for (const [what, ip] of [
    ["another inventory host's address", "10.77.0.12"],
    ["the VIP", "10.77.0.10"],
    ["the gateway", "10.77.0.1"],
    ["the admin machine's address", SERVER_IP],
  ] as const) {
    it(`refuses with 403 facts that name ${what}, even from that address`, async () => {
      const response = await post("installer", await installerToken(), facts({ ip }), ip);
      expect(response.statusCode).toBe(403);
      expect(response.json().error).toMatch(/; an install never targets it$/);
      expect(f.store.host("node1")?.phase).toBe("pxe");
    });
  }

  it("counts refused callbacks but writes only the first of each kind to the event log, with bounded words", async () => {
    const token = await installerToken();
    const seqBefore = f.store.snapshot().seq;
    const huge = "x".repeat(100_000);
    for (let i = 0; i < 50; i++) {
      const body = facts({ disks: [{ name: "vda", path: `/dev/${huge}`, sizeBytes: GIB }] });
      expect((await post("installer", token, body)).statusCode).toBe(400);
      expect((await post("installer", token, facts(), `10.78.${i}.9`)).statusCode).toBe(403);
    }
    const events = (await f.store.history()).filter((event) => event.seq > seqBefore);
    expect(events).toHaveLength(2);
    expect(JSON.stringify(events).length).toBeLessThan(2000);
    expect(JSON.stringify(events)).not.toContain("xxxxxxxx");
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
        body: JSON.stringify(facts({ ip: "127.0.0.1" })),
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
