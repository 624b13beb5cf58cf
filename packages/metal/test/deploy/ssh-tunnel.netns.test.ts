/**
 * The default Kubernetes access for real: OpenSSH's client against a dropbear server on
 * 127.0.0.1 playing a k3s server. Needs root: dropbear logs root in with the key from
 * /root/.ssh/authorized_keys, so it runs in a private mount namespace where a temp directory is
 * mounted over /root; the machine's own /root is never touched.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDeploy } from "../../src/deploy/rollout.js";
import { KUBECTL_DRAIN_DEFAULTS } from "../../src/deploy/drain-policy.js";
import { KubeAccessError } from "../../src/deploy/errors.js";
import { sshOptions } from "../../src/ssh-options.js";
import { SshTunnelAccess } from "../../src/deploy/ssh-tunnel.js";
import type { Host } from "../../src/inventory/types.js";
import { FakeKubeApi } from "./fake-kube-api.js";
import { inventory, testCommands, writeActivationScript } from "./harness.js";
import { selfSignedCertificate } from "./tls.js";
import { loopbackHost, startLoopbackDropbear } from "../helpers/loopback-target.js";

const SSH_PORT = 42_000 + (process.pid % 1000);
const CONNECT_TIMEOUT_MS = 15_000;

describe.skipIf(process.getuid?.() !== 0)(
  "Kubernetes API through an SSH tunnel to a server",
  () => {
    let dir: string;
    let api: FakeKubeApi;
    let dropbear: ResultPromise;
    let remoteKubeconfig: string;
    let knownHosts: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "metal-ssh-"));
      const home = join(dir, "root-home");
      await mkdir(join(home, ".ssh"), { recursive: true, mode: 0o700 });
      await chmod(home, 0o700);
      await execa("dropbearkey", ["-t", "ed25519", "-f", join(dir, "host_key")]);
      await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "id")]);
      await writeFile(join(home, ".ssh", "authorized_keys"), await readFile(join(dir, "id.pub")), {
        mode: 0o600,
      });
      const hostKey = (await execa("dropbearkey", ["-y", "-f", join(dir, "host_key")])).stdout
        .split("\n")
        .find((line) => line.startsWith("ssh-"));
      knownHosts = join(dir, "known_hosts");
      await writeFile(knownHosts, `[127.0.0.1]:${SSH_PORT} ${hostKey}\n`);

      const tls = await selfSignedCertificate();
      api = new FakeKubeApi();
      api.addNode("s1", { etcd: true });
      api.addNode("s2", { etcd: true });
      api.addNode("a1");
      remoteKubeconfig = join(dir, "k3s.yaml");
      await writeFile(remoteKubeconfig, api.kubeconfig(await api.start(tls), tls.cert));

      ({ dropbear } = await startLoopbackDropbear({
        port: SSH_PORT,
        hostKey: join(dir, "host_key"),
        mounts: [`mount --bind "${home}" /root`],
        pidFile: join(dir, "dropbear.pid"),
      }));
    });

    afterAll(async () => {
      dropbear?.kill("SIGTERM");
      await dropbear;
      await api?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    function access(knownHostsFile = knownHosts): SshTunnelAccess {
      return new SshTunnelAccess(
        [
          loopbackHost("s2", { role: "server" }),
          loopbackHost("s1", { role: "server", init: true }),
        ],
        {
          sshCommand: "ssh",
          sshOptions: sshOptions({ knownHostsFile, identityFile: join(dir, "id"), port: SSH_PORT }),
          remoteKubeconfig,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
        },
      );
    }

    it("reads the kubeconfig on the server into memory and reaches the API through a local forward", async () => {
      const tunnel = access();
      const before = await readdir(dir);
      try {
        const nodes = await (await tunnel.clusterApi([])).listNodes();
        expect(nodes.map((node) => node.name).sort()).toEqual(["a1", "s1", "s2"]);
        // Moving off the init server opens a new tunnel that works as well.
        const viaOther = await tunnel.clusterApi(["s1"]);
        expect((await viaOther.getNode("s1")).ready).toBe(true);
        await viaOther.setUnschedulable("s1", true);
        expect(api.node("s1").unschedulable).toBe(true);
      } finally {
        await tunnel.close();
      }
      expect(await readdir(dir)).toEqual(before);
      expect(api.requests.every((request) => request.path.startsWith("/api/v1/"))).toBe(true);
    });

    it("refuses a server whose host key is not the pinned one", async () => {
      const wrong = join(dir, "wrong_known_hosts");
      await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "other")]);
      await writeFile(
        wrong,
        `[127.0.0.1]:${SSH_PORT} ${await readFile(join(dir, "other.pub"), "utf8")}`,
      );
      const tunnel = access(wrong);
      try {
        await expect(tunnel.clusterApi([])).rejects.toThrow(KubeAccessError);
        await expect(tunnel.clusterApi([])).rejects.toThrow(/host key/i);
      } finally {
        await tunnel.close();
      }
    });

    it("runs a whole deploy through the tunnel", async () => {
      const script = await writeActivationScript(dir);
      const agent: Host = loopbackHost("a1");
      const events: string[] = [];
      const outcome = await runDeploy({
        inventory: inventory([
          loopbackHost("s1", { role: "server", init: true }),
          loopbackHost("s2", { role: "server" }),
          agent,
        ]),
        only: ["a1"],
        parallel: 1,
        reboot: "auto",
        dryRun: false,
        stateDir: join(dir, "state"),
        commands: testCommands(script),
        sshOptions: [],
        openAccess: () => access(),
        timing: {
          drainTimeoutMs: 20_000,
          readyTimeoutMs: 20_000,
          confirmTimeoutMs: 20_000,
          pollMs: 50,
        },
        drainFlags: KUBECTL_DRAIN_DEFAULTS,
        onEvent: (event) => events.push(event.type),
      });
      expect(outcome).toMatchObject({ ok: true, deployed: ["a1"] });
      const patches = api.writes().filter((request) => request.path === "/api/v1/nodes/a1");
      expect(patches).toHaveLength(2);
      expect(api.node("a1").unschedulable).toBe(false);
      expect(events.at(-1)).toBe("deploy.finished");
    });
  },
);
