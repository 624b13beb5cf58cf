/**
 * Default Kubernetes access (ADR 0072): the admin kubeconfig never leaves the servers. It is read
 * over SSH into memory (`cat /etc/rancher/k3s/k3s.yaml`), and the API is reached through an SSH
 * local forward to the address that kubeconfig names on the server (k3s: 127.0.0.1:6443). The
 * tunnel prefers the init server and moves to another server while that one is deployed.
 */
import { connect, createServer, isIP, type AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { execa, type ResultPromise } from "execa";
import type { Host } from "../inventory/types.js";
import { KubernetesClusterApi, type ClusterApi } from "./cluster-api.js";
import { KubeAccessError } from "./errors.js";
import type { KubeAccess } from "./kube-access.js";

export interface SshTunnelSettings {
  /** The ssh client, `ssh` unless a test or a wrapper says otherwise. */
  readonly sshCommand: string;
  readonly sshOptions: readonly string[];
  /** Where k3s writes its admin kubeconfig on a server. */
  readonly remoteKubeconfig: string;
  /** How long opening one tunnel may take. */
  readonly connectTimeoutMs: number;
}

export const K3S_KUBECONFIG = "/etc/rancher/k3s/k3s.yaml";
export const DEFAULT_TUNNEL_CONNECT_TIMEOUT_MS = 20_000;
const PORT_PROBE_INTERVAL_MS = 100;
// A tunnel whose server went down (a reboot) must die soon, so the next call opens a new one.
const KEEPALIVE_OPTIONS = ["-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"];

interface TunnelProcess {
  readonly host: string;
  readonly process: ResultPromise;
  exited: boolean;
}

interface Tunnel extends TunnelProcess {
  readonly api: ClusterApi;
}

export class SshTunnelAccess implements KubeAccess {
  readonly #servers: readonly Host[];
  readonly #settings: SshTunnelSettings;
  #tunnel: Tunnel | undefined;

  /** `servers`: the inventory's servers; the init server is tried first. */
  constructor(servers: readonly Host[], settings: SshTunnelSettings) {
    if (servers.length === 0) {
      throw new KubeAccessError(
        "the inventory has no server to reach the Kubernetes API through; add a host with " +
          'role = "server" or pass --kubeconfig FILE',
      );
    }
    this.#servers = [
      ...servers.filter((host) => host.init),
      ...servers.filter((host) => !host.init),
    ];
    this.#settings = settings;
  }

  async clusterApi(avoid: readonly string[]): Promise<ClusterApi> {
    const current = this.#tunnel;
    if (current && !current.exited && !avoid.includes(current.host)) return current.api;
    const via = this.#servers.find((host) => !avoid.includes(host.name)) ?? this.#servers[0];
    if (current && !current.exited && current.host === via?.name) return current.api;
    await this.close();
    this.#tunnel = await this.#open(via as Host);
    return this.#tunnel.api;
  }

  async close(): Promise<void> {
    const tunnel = this.#tunnel;
    this.#tunnel = undefined;
    if (!tunnel || tunnel.exited) return;
    tunnel.process.kill("SIGTERM");
    await tunnel.process.catch(() => undefined);
  }

  async #open(server: Host): Promise<Tunnel> {
    const target = `root@${server.address}`;
    const { sshCommand, sshOptions, remoteKubeconfig, connectTimeoutMs } = this.#settings;
    const read = await execa(sshCommand, [...sshOptions, target, "cat", remoteKubeconfig], {
      reject: false,
      stdin: "ignore",
      timeout: connectTimeoutMs,
    });
    if (read.failed) {
      throw new KubeAccessError(
        `cannot read ${remoteKubeconfig} on ${server.name} (${target}) over SSH: ` +
          `${read.stderr.trim() || read.shortMessage}. Check that the host key is in the known_hosts ` +
          `file (--known-hosts), that your key logs in as root, or pass --kubeconfig FILE`,
      );
    }
    const remote = new KubeConfig();
    remote.loadFromString(read.stdout);
    const cluster = remote.getCurrentCluster();
    if (!cluster) {
      throw new KubeAccessError(`${remoteKubeconfig} on ${server.name} names no current cluster`);
    }
    const apiUrl = new URL(cluster.server);
    const remotePort = apiUrl.port || (apiUrl.protocol === "https:" ? "443" : "80");
    const remoteHost = apiUrl.hostname.replace(/^\[|\]$/g, "");
    const localPort = await freeLocalPort();
    const process = execa(
      sshCommand,
      [
        ...sshOptions,
        ...KEEPALIVE_OPTIONS,
        "-o",
        "ExitOnForwardFailure=yes",
        "-N",
        "-L",
        `127.0.0.1:${localPort}:${remoteHost.includes(":") ? `[${remoteHost}]` : remoteHost}:${remotePort}`,
        target,
      ],
      { reject: false, stdin: "ignore", stdout: "ignore" },
    );
    const tunnel: TunnelProcess = { host: server.name, process, exited: false };
    void process.then(() => {
      tunnel.exited = true;
    });
    await waitForPort(localPort, tunnel, connectTimeoutMs, server);

    const local = new KubeConfig();
    local.loadFromOptions({
      clusters: remote.clusters.map((entry) =>
        entry.name === cluster.name
          ? {
              ...entry,
              server: `${apiUrl.protocol}//127.0.0.1:${localPort}`,
              // The certificate names the address the kubeconfig used; keep checking that name.
              ...(isIP(remoteHost) ? {} : { tlsServerName: remoteHost }),
            }
          : entry,
      ),
      users: remote.users,
      contexts: remote.contexts,
      currentContext: remote.currentContext,
    });
    return Object.assign(tunnel, { api: new KubernetesClusterApi(local) });
  }
}

async function freeLocalPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(
  port: number,
  tunnel: TunnelProcess,
  timeoutMs: number,
  server: Host,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (tunnel.exited) {
      const result = await tunnel.process;
      throw new KubeAccessError(
        `the SSH tunnel to ${server.name} (root@${server.address}) ended: ` +
          `${String(result.stderr).trim() || result.shortMessage}`,
      );
    }
    if (await acceptsOnLoopback(port)) return;
    await sleep(PORT_PROBE_INTERVAL_MS);
  }
  tunnel.process.kill("SIGTERM");
  throw new KubeAccessError(
    `the SSH tunnel to ${server.name} (root@${server.address}) did not open within ${timeoutMs / 1000} s`,
  );
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` now (the tunnel's local end). */
export function acceptsOnLoopback(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
