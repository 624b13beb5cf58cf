/**
 * A stand-in for kube-apiserver covering the calls `metal deploy` makes, with the real paths,
 * object shapes, content types and status codes: node list/get/patch, pods by node
 * (fieldSelector), and policy/v1 evictions that honour PodDisruptionBudgets (429 with a
 * `DisruptionBudget` cause, 404 for a pod that is gone). An evicted pod stays, terminating,
 * until the next pod list (so a budget refuses a second eviction deterministically), then is
 * gone and, like a Deployment's, comes back on another schedulable node. Tests flip readiness.
 * coordination.k8s.io/v1 Leases: get, create (409 AlreadyExists), update (409 Conflict unless
 * the body names the current resourceVersion), as the API server's optimistic concurrency does.
 * It speaks HTTPS like the real one: the client verifies it against the CA in the kubeconfig.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface FakeNode {
  name: string;
  ready: boolean;
  unschedulable: boolean;
  bootId: string;
  etcd: boolean;
}

export interface FakePod {
  namespace: string;
  name: string;
  uid: string;
  nodeName: string;
  labels: Record<string, string>;
  ownerKind: "ReplicaSet" | "DaemonSet" | undefined;
  mirror: boolean;
  deleting: boolean;
  /** Mounts an emptyDir volume. */
  emptyDir: boolean;
  phase: "Running" | "Succeeded" | "Failed";
}

export interface FakeLease {
  resourceVersion: number;
  spec: Record<string, unknown>;
}

export interface FakeBudget {
  namespace: string;
  name: string;
  selector: Record<string, string>;
  minAvailable: number;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly time: number;
}

const MERGE_PATCH_TYPES = [
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
];
const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class FakeKubeApi {
  readonly nodes = new Map<string, FakeNode>();
  readonly pods: FakePod[] = [];
  readonly budgets: FakeBudget[] = [];
  readonly leases = new Map<string, FakeLease>();
  readonly requests: RecordedRequest[] = [];
  /** Eviction requests a PodDisruptionBudget refused (429). */
  refusals = 0;
  /** Evicted ReplicaSet pods get a replacement on another schedulable node, as a controller would. */
  reschedule = true;
  #server: Server | undefined;
  #resourceVersion = 1;

  addNode(name: string, options: { etcd?: boolean; ready?: boolean } = {}): FakeNode {
    const node: FakeNode = {
      name,
      ready: options.ready ?? true,
      unschedulable: false,
      bootId: randomUUID(),
      etcd: options.etcd ?? false,
    };
    this.nodes.set(name, node);
    return node;
  }

  addPod(pod: Partial<FakePod> & Pick<FakePod, "name" | "nodeName">): FakePod {
    const full: FakePod = {
      namespace: "default",
      uid: randomUUID(),
      labels: {},
      ownerKind: "ReplicaSet",
      mirror: false,
      deleting: false,
      emptyDir: false,
      phase: "Running",
      ...pod,
    };
    this.pods.push(full);
    return full;
  }

  setReady(name: string, ready: boolean): void {
    this.node(name).ready = ready;
  }

  /** The node goes down and, once Ready again, reports a new boot id. */
  reboot(name: string): void {
    const node = this.node(name);
    node.ready = false;
    node.bootId = randomUUID();
  }

  writes(): RecordedRequest[] {
    return this.requests.filter((request) => WRITE_METHODS.has(request.method));
  }

  podsOn(nodeName: string): FakePod[] {
    return this.pods.filter((pod) => pod.nodeName === nodeName);
  }

  /** `tls`: a PEM key and a certificate for 127.0.0.1 (see tls.ts). */
  async start(tls: { key: string; cert: string }): Promise<string> {
    this.#server = createServer(tls, (request, response) => {
      void this.#handle(request, response);
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, "127.0.0.1", resolve));
    const { port } = this.#server.address() as AddressInfo;
    return `https://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }

  /** A kubeconfig file's text pointing at this server. */
  kubeconfig(server: string, caCert: string): string {
    return [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      `- cluster: {server: "${server}", certificate-authority-data: ${Buffer.from(caCert).toString("base64")}}`,
      "  name: fake",
      "users:",
      "- user: {token: fake-token}",
      "  name: admin",
      "contexts:",
      "- context: {cluster: fake, user: admin}",
      "  name: fake",
      "current-context: fake",
      "",
    ].join("\n");
  }

  node(name: string): FakeNode {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`fake has no node ${name}`);
    return node;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://fake");
    const contentType = request.headers["content-type"]?.split(";")[0];
    this.requests.push({
      method: request.method ?? "",
      path: url.pathname,
      contentType,
      time: Date.now(),
    });
    const body = await readBody(request);
    const segments = url.pathname.split("/").filter((segment) => segment.length > 0);
    const route = `${request.method} ${url.pathname}`;

    const lease =
      /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(
        url.pathname,
      );
    if (lease) return this.#lease(request.method ?? "", lease[1] ?? "", lease[2], body, response);
    if (route === "GET /api/v1/nodes") {
      return send(
        response,
        200,
        this.#list(
          "NodeList",
          [...this.nodes.values()].map((node) => this.#nodeObject(node)),
        ),
      );
    }
    if (segments.length === 4 && url.pathname.startsWith("/api/v1/nodes/")) {
      const node = this.nodes.get(segments[3] ?? "");
      if (!node)
        return send(response, 404, status(404, "NotFound", `nodes "${segments[3]}" not found`));
      if (request.method === "GET") return send(response, 200, this.#nodeObject(node));
      if (request.method === "PATCH") {
        if (!contentType || !MERGE_PATCH_TYPES.includes(contentType)) {
          return send(
            response,
            415,
            status(
              415,
              "UnsupportedMediaType",
              `the body of the request was in an unknown format - accepted media types include: ${MERGE_PATCH_TYPES.join(", ")}`,
            ),
          );
        }
        const patch = JSON.parse(body) as { spec?: { unschedulable?: boolean | null } };
        if (patch.spec && "unschedulable" in patch.spec)
          node.unschedulable = patch.spec.unschedulable === true;
        this.#resourceVersion++;
        return send(response, 200, this.#nodeObject(node));
      }
    }
    if (route === "GET /api/v1/pods") {
      const selector = url.searchParams.get("fieldSelector") ?? "";
      const match = /^spec\.nodeName=(.+)$/.exec(selector);
      if (!match)
        return send(
          response,
          400,
          status(400, "BadRequest", `unsupported field selector "${selector}"`),
        );
      // Evicted pods finish terminating when their own node's drain looks again, so another
      // node's drain running in the same batch cannot change what this one's budget allows.
      this.#reapTerminated(match[1] ?? "");
      return send(response, 200, this.#list("PodList", this.podsOn(match[1] ?? "").map(podObject)));
    }
    if (
      request.method === "POST" &&
      segments.length === 7 &&
      segments[2] === "namespaces" &&
      segments[4] === "pods" &&
      segments[6] === "eviction"
    ) {
      return this.#evict(segments[3] ?? "", segments[5] ?? "", body, response);
    }
    send(
      response,
      404,
      status(404, "NotFound", "the server could not find the requested resource"),
    );
  }

  #evict(namespace: string, name: string, body: string, response: ServerResponse): void {
    const eviction = JSON.parse(body) as {
      apiVersion?: string;
      kind?: string;
      metadata?: { name?: string };
    };
    if (
      eviction.kind !== "Eviction" ||
      eviction.apiVersion !== "policy/v1" ||
      eviction.metadata?.name !== name
    ) {
      return send(
        response,
        400,
        status(400, "BadRequest", "body is not a policy/v1 Eviction for this pod"),
      );
    }
    const pod = this.pods.find(
      (candidate) => candidate.namespace === namespace && candidate.name === name,
    );
    if (!pod) return send(response, 404, status(404, "NotFound", `pods "${name}" not found`));
    if (!pod.deleting) {
      const budgets = this.budgets.filter(
        (budget) => budget.namespace === namespace && matches(budget.selector, pod.labels),
      );
      if (budgets.length > 1) {
        return send(
          response,
          500,
          status(
            500,
            "InternalError",
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
          ),
        );
      }
      const budget = budgets[0];
      if (budget) {
        const healthy = this.pods.filter(
          (candidate) =>
            candidate.namespace === namespace &&
            !candidate.deleting &&
            matches(budget.selector, candidate.labels),
        ).length;
        if (healthy - 1 < budget.minAvailable) {
          const refusal = status(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
          );
          refusal.details = {
            causes: [
              {
                reason: "DisruptionBudget",
                message: `The disruption budget ${budget.name} needs ${budget.minAvailable} healthy pods and has ${healthy} currently`,
              },
            ],
          };
          this.refusals++;
          return send(response, 429, refusal);
        }
      }
      pod.deleting = true;
    }
    send(response, 201, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      code: 201,
    });
  }

  #lease(
    method: string,
    namespace: string,
    name: string | undefined,
    body: string,
    response: ServerResponse,
  ): void {
    const key = (leaseName: string) => `${namespace}/${leaseName}`;
    const object = (leaseName: string, stored: FakeLease) => ({
      kind: "Lease",
      apiVersion: "coordination.k8s.io/v1",
      metadata: { name: leaseName, namespace, resourceVersion: String(stored.resourceVersion) },
      spec: stored.spec,
    });
    if (method === "POST" && name === undefined) {
      const sent = JSON.parse(body) as {
        metadata?: { name?: string };
        spec?: Record<string, unknown>;
      };
      const leaseName = sent.metadata?.name ?? "";
      if (this.leases.has(key(leaseName))) {
        return send(
          response,
          409,
          status(409, "AlreadyExists", `leases.coordination.k8s.io "${leaseName}" already exists`),
        );
      }
      const stored = { resourceVersion: ++this.#resourceVersion, spec: sent.spec ?? {} };
      this.leases.set(key(leaseName), stored);
      return send(response, 201, object(leaseName, stored));
    }
    const stored = name === undefined ? undefined : this.leases.get(key(name));
    if (!stored || name === undefined) {
      return send(
        response,
        404,
        status(404, "NotFound", `leases.coordination.k8s.io "${name}" not found`),
      );
    }
    if (method === "GET") return send(response, 200, object(name, stored));
    if (method === "PUT") {
      const sent = JSON.parse(body) as {
        metadata?: { resourceVersion?: string };
        spec?: Record<string, unknown>;
      };
      if (sent.metadata?.resourceVersion !== String(stored.resourceVersion)) {
        return send(
          response,
          409,
          status(
            409,
            "Conflict",
            `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          ),
        );
      }
      stored.resourceVersion = ++this.#resourceVersion;
      stored.spec = sent.spec ?? {};
      return send(response, 200, object(name, stored));
    }
    send(response, 405, status(405, "MethodNotAllowed", `${method} is not allowed on leases`));
  }

  #reapTerminated(nodeName: string): void {
    for (const pod of this.pods.filter(
      (candidate) => candidate.deleting && candidate.nodeName === nodeName,
    ))
      this.#terminated(pod);
  }

  #terminated(pod: FakePod): void {
    this.pods.splice(this.pods.indexOf(pod), 1);
    if (!this.reschedule || pod.ownerKind !== "ReplicaSet") return;
    const target = [...this.nodes.values()].find(
      (node) => node.ready && !node.unschedulable && node.name !== pod.nodeName,
    );
    if (target)
      this.addPod({
        ...pod,
        name: `${pod.name}-r`,
        uid: randomUUID(),
        nodeName: target.name,
        deleting: false,
      });
  }

  #list(kind: string, items: object[]): object {
    return {
      kind,
      apiVersion: "v1",
      metadata: { resourceVersion: String(this.#resourceVersion) },
      items,
    };
  }

  #nodeObject(node: FakeNode): object {
    return {
      kind: "Node",
      apiVersion: "v1",
      metadata: {
        name: node.name,
        uid: `uid-${node.name}`,
        resourceVersion: String(this.#resourceVersion),
        labels: {
          "kubernetes.io/hostname": node.name,
          ...(node.etcd
            ? {
                "node-role.kubernetes.io/etcd": "true",
                "node-role.kubernetes.io/control-plane": "true",
              }
            : {}),
        },
      },
      spec: node.unschedulable
        ? {
            unschedulable: true,
            taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }],
          }
        : {},
      status: {
        conditions: [
          {
            type: "Ready",
            status: node.ready ? "True" : "Unknown",
            reason: node.ready ? "KubeletReady" : "NodeStatusUnknown",
            message: node.ready
              ? "kubelet is posting ready status"
              : "Kubelet stopped posting node status.",
            lastHeartbeatTime: new Date().toISOString(),
            lastTransitionTime: new Date().toISOString(),
          },
        ],
        nodeInfo: { bootID: node.bootId, kubeletVersion: "v1.31.4+k3s1" },
      },
    };
  }
}

function podObject(pod: FakePod): object {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      labels: pod.labels,
      ...(pod.mirror ? { annotations: { "kubernetes.io/config.mirror": "hash" } } : {}),
      ...(pod.ownerKind
        ? {
            ownerReferences: [
              {
                apiVersion: "apps/v1",
                kind: pod.ownerKind,
                name: `${pod.name}-owner`,
                uid: "owner",
                controller: true,
              },
            ],
          }
        : {}),
      ...(pod.deleting ? { deletionTimestamp: new Date().toISOString() } : {}),
    },
    spec: {
      nodeName: pod.nodeName,
      containers: [{ name: "main", image: "nginx" }],
      ...(pod.emptyDir ? { volumes: [{ name: "scratch", emptyDir: {} }] } : {}),
    },
    status: { phase: pod.phase },
  };
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  };
}

function send(response: ServerResponse, code: number, body: object): void {
  response.writeHead(code, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
