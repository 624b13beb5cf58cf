import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runDeploy, type DeployOptions } from "../../src/deploy/rollout.js";
import type { DeployEvent } from "../../src/deploy/events.js";
import { KubeconfigFileAccess } from "../../src/deploy/kube-access.js";
import { KUBECTL_DRAIN_DEFAULTS } from "../../src/deploy/drain-policy.js";
import { DeployLockedError } from "../../src/deploy/errors.js";
import { loadProgress } from "../../src/deploy/progress-store.js";
import { FakeKubeApi } from "./fake-kube-api.js";
import { CLUSTER, testCommands, writeActivationScript } from "./harness.js";
import { selfSignedCertificate } from "./tls.js";

// Upper bounds only: the happy path never waits them out; failure cases set their own short ones.
const FAST = {
  drainTimeoutMs: 20_000,
  readyTimeoutMs: 20_000,
  confirmTimeoutMs: 20_000,
  pollMs: 20,
};
const REBOOT_DOWNTIME_MS = 80;

// Every step fsyncs progress and history: slow on a busy disk, so generous timeouts.
const TEST_TIMEOUT_MS = 60_000;

describe("metal deploy against a Kubernetes-shaped API", { timeout: TEST_TIMEOUT_MS }, () => {
  let dir: string;
  let api: FakeKubeApi;
  let script: string;
  let kubeconfig: string;
  let events: DeployEvent[];
  /** Nodes that stay down after a reboot, as a broken new system would. */
  let neverBack: Set<string>;
  let tls: { key: string; cert: string };

  beforeAll(async () => {
    tls = await selfSignedCertificate();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "metal-deploy-"));
    script = await writeActivationScript(dir);
    api = new FakeKubeApi();
    for (const { name, role } of CLUSTER.hosts) api.addNode(name, { etcd: role === "server" });
    kubeconfig = join(dir, "kubeconfig");
    await writeFile(kubeconfig, api.kubeconfig(await api.start(tls), tls.cert));
    events = [];
    neverBack = new Set();
  });

  afterEach(async () => {
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function options(overrides: Partial<DeployOptions> = {}): DeployOptions {
    return {
      inventory: CLUSTER,
      only: [],
      parallel: 2,
      reboot: "auto",
      dryRun: false,
      stateDir: join(dir, "state"),
      commands: testCommands(script),
      sshOptions: [
        "-o",
        `UserKnownHostsFile=${join(dir, "known_hosts")}`,
        "-o",
        "StrictHostKeyChecking=yes",
      ],
      openAccess: () => new KubeconfigFileAccess(kubeconfig),
      timing: FAST,
      drainFlags: KUBECTL_DRAIN_DEFAULTS,
      onEvent: (event) => {
        events.push(event);
        // The machine goes down when told to reboot and comes back with a new boot id.
        if (event.type === "deploy.step" && event.step === "reboot" && event.status === "start") {
          api.reboot(event.host);
          if (!neverBack.has(event.host))
            setTimeout(() => api.setReady(event.host, true), REBOOT_DOWNTIME_MS);
        }
      },
      ...overrides,
    };
  }

  async function calls(): Promise<string[]> {
    if (!existsSync(join(dir, "calls.log"))) return [];
    return (await readFile(join(dir, "calls.log"), "utf8")).trim().split("\n");
  }

  function stepTime(hostName: string, step: string, status = "start"): number {
    const event = events.find(
      (candidate) =>
        candidate.type === "deploy.step" &&
        candidate.host === hostName &&
        candidate.step === step &&
        candidate.status === status,
    );
    if (!event) throw new Error(`no ${status} event for ${hostName} ${step}`);
    return event.time;
  }

  function doneTime(hostName: string): number {
    const event = events.find(
      (candidate) => candidate.type === "deploy.host.done" && candidate.host === hostName,
    );
    if (!event) throw new Error(`${hostName} never finished`);
    return event.time;
  }

  it("deploys servers one at a time with the init server last, then agents in batches, draining through evictions", async () => {
    // Two replicas behind a budget that allows one down: the second eviction is refused (429)
    // until the first pod is gone and its replacement runs elsewhere.
    api.addPod({ name: "web-1", nodeName: "a1", labels: { app: "web" } });
    api.addPod({ name: "web-2", nodeName: "a1", labels: { app: "web" } });
    api.budgets.push({
      namespace: "default",
      name: "web-pdb",
      selector: { app: "web" },
      minAvailable: 1,
    });
    api.addPod({
      name: "flannel-a1",
      namespace: "kube-system",
      nodeName: "a1",
      ownerKind: "DaemonSet",
    });
    api.addPod({
      name: "static-a1",
      namespace: "kube-system",
      nodeName: "a1",
      ownerKind: undefined,
      mirror: true,
    });
    await writeFile(join(dir, "new-kernel-a2"), "");

    const outcome = await runDeploy(options());

    expect(outcome).toMatchObject({ ok: true, failures: [] });
    expect(outcome.deployed).toHaveLength(6);
    const finished = events
      .filter((event) => event.type === "deploy.host.done")
      .map((event) => event.host);
    expect(finished.slice(0, 3)).toEqual(["s2", "s3", "s1"]);
    expect(new Set(finished.slice(3, 5))).toEqual(new Set(["a1", "a2"]));
    expect(finished[5]).toBe("a3");
    // One server at a time: the next one is cordoned only after the previous one finished.
    expect(stepTime("s3", "cordon")).toBeGreaterThanOrEqual(doneTime("s2"));
    expect(stepTime("s1", "cordon")).toBeGreaterThanOrEqual(doneTime("s3"));
    expect(stepTime("a1", "cordon")).toBeGreaterThanOrEqual(doneTime("s1"));
    // a1 and a2 form one batch; a3 waits for both.
    expect(stepTime("a2", "cordon")).toBeLessThan(doneTime("a1"));
    expect(stepTime("a3", "cordon")).toBeGreaterThanOrEqual(
      Math.max(doneTime("a1"), doneTime("a2")),
    );

    expect(api.refusals).toBeGreaterThan(0);
    const a1Drain = events.find(
      (event) =>
        event.type === "deploy.step" &&
        event.host === "a1" &&
        event.step === "drain" &&
        event.status === "done",
    );
    expect(a1Drain).toMatchObject({
      detail:
        "evicted 2 pod(s) [default/web-1, default/web-2]; left 2 pod(s) [kube-system/flannel-a1, kube-system/static-a1] (DaemonSet, mirror)",
    });
    expect(
      api
        .podsOn("a1")
        .map((pod) => pod.name)
        .sort(),
    ).toEqual(["flannel-a1", "static-a1"]);
    expect(api.pods.filter((pod) => pod.labels.app === "web")).toHaveLength(2);
    for (const node of api.nodes.values()) expect(node.unschedulable).toBe(false);
    for (const write of api.writes().filter((request) => request.method === "PATCH")) {
      expect(write.contentType).toBe("application/strategic-merge-patch+json");
    }

    const log = await calls();
    expect(log.filter((line) => line.startsWith("switch "))).toHaveLength(5);
    expect(log).toContain("boot a2 /lab#a2 root@192.0.2.15");
    expect(log).toContain("reboot a2 root@192.0.2.15");
    expect(log.some((line) => line.startsWith("switch a2"))).toBe(false);
    expect(log).toContain(
      `current-boot s2 192.0.2.12 -o UserKnownHostsFile=${join(dir, "known_hosts")} -o StrictHostKeyChecking=yes`,
    );

    const progress = await loadProgress(join(dir, "state", "deploy.json"));
    expect(progress?.finishedAt).toBeDefined();
    const history = (await readFile(join(dir, "state", "deploy-history.jsonl"), "utf8"))
      .trim()
      .split("\n");
    expect(history.map((line) => (JSON.parse(line) as DeployEvent).type)).toContain(
      "deploy.finished",
    );
    expect(await readFile(join(dir, "state", "logs", "deploy", "s2.log"), "utf8")).toContain(
      "building s2",
    );
  });

  it("stops when a PodDisruptionBudget blocks the drain past the timeout, leaving the node cordoned and naming pod and budget", async () => {
    api.addPod({ name: "db-0", namespace: "data", nodeName: "a1", labels: { app: "db" } });
    api.budgets.push({
      namespace: "data",
      name: "db-pdb",
      selector: { app: "db" },
      minAvailable: 1,
    });

    const outcome = await runDeploy(
      options({ only: ["a1", "a2"], parallel: 1, timing: { ...FAST, drainTimeoutMs: 400 } }),
    );

    expect(outcome.ok).toBe(false);
    expect(outcome.failures).toHaveLength(1);
    const [failure] = outcome.failures;
    expect(failure).toMatchObject({ host: "a1", step: "drain" });
    expect(failure?.error).toContain("data/db-0");
    expect(failure?.error).toContain("PodDisruptionBudget db-pdb");
    expect(failure?.recovery.join("\n")).toContain("kubectl uncordon a1");
    expect(api.node("a1").unschedulable).toBe(true);
    expect(api.podsOn("a1").map((pod) => pod.name)).toEqual(["db-0"]);
    expect(api.requests.some((request) => request.path.includes("/a2"))).toBe(false);
    // Both systems were built first; nothing was activated anywhere.
    expect(await calls()).toEqual(["build a1 /lab", "build a2 /lab"]);
    expect(events.at(-1)).toMatchObject({ type: "deploy.finished", ok: false });
  });

  it("stops when a node does not come back Ready after its reboot and never touches the next node", async () => {
    neverBack.add("s2");

    const outcome = await runDeploy(
      options({ reboot: "always", timing: { ...FAST, readyTimeoutMs: 400 } }),
    );

    expect(outcome.ok).toBe(false);
    expect(outcome.failures[0]).toMatchObject({ host: "s2", step: "wait-ready" });
    expect(outcome.failures[0]?.error).toContain("did not come back Ready");
    // Its rollback reboot did not bring it back either: the report gives the way back by hand.
    expect(outcome.failures[0]?.recovery.join("\n")).toContain(
      `${script} rollback-boot s2 42 && ${script} reboot s2 root@192.0.2.12`,
    );
    expect(api.node("s2").unschedulable).toBe(true);
    for (const untouched of ["s3", "s1", "a1", "a2", "a3"]) {
      expect(api.node(untouched).unschedulable).toBe(false);
      expect(api.writes().some((request) => request.path.endsWith(`/${untouched}`))).toBe(false);
      // Built before anything was touched; nothing else ran for it.
      expect((await calls()).filter((line) => line.split(" ")[1] === untouched)).toEqual([
        `build ${untouched} /lab`,
      ]);
    }
    const progress = await loadProgress(join(dir, "state", "deploy.json"));
    expect(progress?.hosts.s2).toMatchObject({ step: "wait-ready", failed: true });
  });

  it("rolls a node that is not Ready after its reboot activation back to the previous generation's boot entry and reboots it", async () => {
    neverBack.add("s2");
    let watching: NodeJS.Timeout | undefined;
    const base = options({
      only: ["s2"],
      reboot: "always",
      timing: { ...FAST, readyTimeoutMs: 500 },
    });
    const outcome = await runDeploy({
      ...base,
      onEvent: (event) => {
        base.onEvent(event);
        if (event.type === "deploy.step" && event.step === "rollback" && event.status === "start") {
          // The machine goes down when the rollback's reboot command runs, and comes back.
          watching = setInterval(() => {
            void calls().then((log) => {
              if (log.filter((line) => line.startsWith("reboot s2")).length < 2) return;
              clearInterval(watching);
              api.reboot("s2");
              setTimeout(() => api.setReady("s2", true), REBOOT_DOWNTIME_MS);
            });
          }, 20);
        }
      },
    });
    clearInterval(watching);

    expect(outcome.failures).toMatchObject([{ host: "s2", step: "wait-ready" }]);
    expect(outcome.failures[0]?.recovery[0]).toBe(
      "s2 was rolled back (metal made generation 42 the boot default and rebooted it) and uncordoned",
    );
    expect((await calls()).filter((line) => !line.startsWith("build "))).toEqual([
      "current-generation s2",
      "boot s2 /lab#s2 root@192.0.2.12",
      "reboot s2 root@192.0.2.12",
      "rollback-boot s2 42",
      "reboot s2 root@192.0.2.12",
      "k3s-health s2",
    ]);
    expect(api.node("s2")).toMatchObject({ ready: true, unschedulable: false });
  });

  it("resumes a failed deploy: finished nodes are skipped, the failed node is redone and uncordoned", async () => {
    await writeFile(join(dir, "fail-switch-s3"), "");
    const first = await runDeploy(options({ only: ["s1", "s2", "s3"] }));
    expect(first.failures[0]).toMatchObject({ host: "s3", step: "activate" });
    expect(first.failures[0]?.error).toContain("simulated switch failure on s3");
    // Rolled back and uncordoned before the deploy stopped.
    expect(api.node("s3").unschedulable).toBe(false);

    await rm(join(dir, "fail-switch-s3"));
    await rm(join(dir, "calls.log"));
    events = [];
    const second = await runDeploy(options({ only: ["s1", "s2", "s3"] }));

    expect(second).toMatchObject({ ok: true, deployId: first.deployId });
    expect(events[0]).toMatchObject({
      type: "deploy.plan",
      batches: [["s3"], ["s1"]],
      skipped: ["s2"],
    });
    expect((await calls()).some((line) => line.split(" ")[1] === "s2")).toBe(false);
    expect(api.node("s3").unschedulable).toBe(false);

    // A finished deploy is not resumed: the next run plans every node again.
    events = [];
    const third = await runDeploy(options({ only: ["s1", "s2", "s3"], dryRun: true }));
    expect(third.deployId).not.toBe(first.deployId);
    expect(events[0]).toMatchObject({
      type: "deploy.plan",
      batches: [["s2"], ["s3"], ["s1"]],
      skipped: [],
    });
  });

  it("keeps resuming a node left down even when a rerun first stops at another node's health", async () => {
    neverBack.add("s2");
    const first = await runDeploy(
      options({ reboot: "always", timing: { ...FAST, readyTimeoutMs: 300 } }),
    );
    expect(first.failures[0]).toMatchObject({ host: "s2", step: "wait-ready" });

    api.setReady("a1", false);
    const second = await runDeploy(options({ reboot: "always" }));
    expect(second.failures[0]).toMatchObject({ host: "s2", step: "health" });
    expect(second.failures[0]?.error).toContain("a1 is not Ready");
    expect(second.failures[0]?.error).not.toContain("s2 is not Ready");

    api.setReady("a1", true);
    neverBack.clear();
    const third = await runDeploy(options({ reboot: "always" }));
    expect(third).toMatchObject({ ok: true, deployId: first.deployId });
    expect(api.node("s2")).toMatchObject({ ready: true, unschedulable: false });
  });

  it("builds every system before touching the first node: a build error drains nothing", async () => {
    api.addPod({ name: "web-1", nodeName: "s2", labels: { app: "web" } });
    // The last node in the plan fails to build: the first one must not have been touched.
    await writeFile(join(dir, "fail-build-a3"), "");

    const outcome = await runDeploy(options());

    expect(outcome.failures).toMatchObject([{ host: "a3", step: "build" }]);
    expect(outcome.failures[0]?.recovery.join("\n")).toContain("no node was touched");
    expect(api.writes()).toEqual([]);
    expect(api.podsOn("s2").map((pod) => pod.name)).toEqual(["web-1"]);
    const log = await calls();
    expect(log.every((line) => line.startsWith("build "))).toBe(true);
    expect(log).toHaveLength(6);
  });

  it("refuses to drain pods kubectl drain refuses (emptyDir data, no controller) and evicts nothing", async () => {
    api.addPod({ name: "web-1", nodeName: "a1", labels: { app: "web" } });
    api.addPod({ name: "cache-0", nodeName: "a1", emptyDir: true });
    api.addPod({ name: "debug", nodeName: "a1", ownerKind: undefined });
    api.addPod({ name: "job-done", nodeName: "a1", ownerKind: undefined, phase: "Succeeded" });

    const refused = await runDeploy(options({ only: ["a1"] }));

    expect(refused.failures).toMatchObject([{ host: "a1", step: "drain" }]);
    expect(refused.failures[0]?.error).toContain(
      "Pods with local storage (use --delete-emptydir-data to override): default/cache-0",
    );
    expect(refused.failures[0]?.error).toContain(
      "Pods that declare no controller (use --force to override): default/debug",
    );
    expect(api.requests.some((request) => request.path.endsWith("/eviction"))).toBe(false);
    expect(api.podsOn("a1")).toHaveLength(4);
    expect(await calls()).toEqual(["build a1 /lab"]);

    // With kubectl's flags the same drain goes through; the finished pod needed none.
    const allowed = await runDeploy(
      options({ only: ["a1"], drainFlags: { force: true, deleteEmptydirData: true } }),
    );
    expect(allowed.ok).toBe(true);
    expect(api.podsOn("a1")).toEqual([]);
  });

  it("rolls a switched node that does not come back Ready back to its previous generation and uncordons it before stopping", async () => {
    const notReadyAfterSwitch = (event: DeployEvent) => {
      if (event.type !== "deploy.step" || event.host !== "s2") return;
      if (event.step === "activate" && event.status === "done") api.setReady("s2", false);
      if (event.step === "rollback" && event.status === "start") {
        setTimeout(() => api.setReady("s2", true), REBOOT_DOWNTIME_MS);
      }
    };
    const base = options({ reboot: "never", timing: { ...FAST, readyTimeoutMs: 500 } });
    const outcome = await runDeploy({
      ...base,
      onEvent: (event) => {
        base.onEvent(event);
        notReadyAfterSwitch(event);
      },
    });

    expect(outcome.failures).toMatchObject([{ host: "s2", step: "wait-ready" }]);
    expect(outcome.failures[0]?.recovery[0]).toBe(
      "s2 was rolled back (metal switched it back to generation 42) and uncordoned",
    );
    const log = (await calls()).filter((line) => !line.startsWith("build "));
    const unit = log.find((line) => line.startsWith("arm s2"))?.split(" ")[2] ?? "";
    expect(unit).toMatch(/^metal-rollback-[0-9a-f]{8}$/);
    expect(log).toEqual([
      "current-generation s2",
      `arm s2 ${unit} 42 20`,
      "switch s2 /lab#s2 root@192.0.2.12",
      `confirm s2 ${unit}`,
      "rollback s2 42",
      "k3s-health s2",
    ]);
    expect(log).toContain("rollback s2 42");
    expect(api.node("s2")).toMatchObject({ ready: true, unschedulable: false });
    for (const untouched of ["s3", "s1", "a1", "a2", "a3"]) {
      expect(api.writes().some((request) => request.path.endsWith(`/${untouched}`))).toBe(false);
    }
  });

  it("lets a node metal can no longer reach after its switch roll itself back, then uncordons it", async () => {
    // The new system locks metal out: confirm, the direct rollback and generation reads fail
    // until the node's watchdog (armed before the switch) switched back.
    await writeFile(join(dir, "after-switch-s2"), `touch "${join(dir, "unreachable-s2")}"\n`);
    const outcome = await runDeploy(
      options({ reboot: "never", timing: { ...FAST, confirmTimeoutMs: 600 } }),
    );

    expect(outcome.failures).toMatchObject([{ host: "s2", step: "confirm" }]);
    expect(outcome.failures[0]?.error).toContain("could not be confirmed within 0.6 s");
    // The node switched back by itself: metal could not reach it until it had.
    expect(await calls()).toContain("watchdog fired s2 42");
    expect(outcome.failures[0]?.recovery[0]).toMatch(
      /^s2 was rolled back \(.*generation 42.*\) and uncordoned$/,
    );
    expect(api.node("s2").unschedulable).toBe(false);
    expect(api.writes().some((request) => request.path.endsWith("/s3"))).toBe(false);
  });

  function leaseHeldBy(holder: string, renewedMsAgo: number, resourceVersion = 5) {
    const renewTime = new Date(Date.now() - renewedMsAgo).toISOString();
    api.leases.set("kube-system/metal-deploy", {
      resourceVersion,
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: 60,
        acquireTime: renewTime,
        renewTime,
        leaseTransitions: 3,
      },
    });
  }

  function deployLease() {
    return api.leases.get("kube-system/metal-deploy")?.spec ?? {};
  }

  it("refuses to start while another deploy holds the cluster's deploy Lease, touching no node", async () => {
    leaseHeldBy("other-laptop/pid 4242/deploy 1234", 5_000);

    await expect(runDeploy(options())).rejects.toThrow(DeployLockedError);
    await expect(runDeploy(options())).rejects.toThrow(
      /Lease kube-system\/metal-deploy is held by "other-laptop\/pid 4242\/deploy 1234".*Nothing was changed/,
    );

    expect(api.writes().filter((request) => !request.path.includes("/leases"))).toEqual([]);
    expect(deployLease()).toMatchObject({ holderIdentity: "other-laptop/pid 4242/deploy 1234" });
    expect((await calls()).every((line) => line.startsWith("build "))).toBe(true);
  });

  it("takes over a Lease whose holder stopped renewing it, and releases it when done", async () => {
    leaseHeldBy("crashed-laptop/pid 1/deploy dead", 120_000);

    const outcome = await runDeploy(options({ only: ["a1"] }));

    expect(outcome.ok).toBe(true);
    expect(deployLease()).toMatchObject({ holderIdentity: "", leaseTransitions: 4 });
    const leaseWrites = api.writes().filter((request) => request.path.includes("/leases"));
    // Taken over by one update naming the resourceVersion it read, then released.
    expect(leaseWrites.map((request) => request.method)).toEqual(["PUT", "PUT"]);
  });

  it("renews its Lease while it runs and stops before the next node once another deploy took it", async () => {
    const stolen = "impatient-laptop/pid 7/deploy other";
    // s2's reboot outlasts the one-second Lease however fast the machine, so renewals must happen.
    await writeFile(join(dir, "after-reboot-s2"), "sleep 1.5\n");
    const base = options({
      only: ["s2", "s3"],
      reboot: "always",
      lease: { durationSeconds: 1, now: () => Date.now() },
    });
    let renewalsBeforeTheft = 0;
    const outcome = await runDeploy({
      ...base,
      onEvent: (event) => {
        base.onEvent(event);
        if (event.type === "deploy.host.done" && event.host === "s2") {
          renewalsBeforeTheft = api
            .writes()
            .filter((request) => request.path.includes("/leases")).length;
          const lease = api.leases.get("kube-system/metal-deploy");
          if (lease) {
            lease.resourceVersion += 1;
            lease.spec = { ...lease.spec, holderIdentity: stolen };
          }
        }
      },
    });

    // s2 took longer than the one-second Lease: it was renewed meanwhile.
    expect(renewalsBeforeTheft).toBeGreaterThan(2);
    expect(outcome.failures).toMatchObject([{ host: "s3", step: "health" }]);
    expect(outcome.failures[0]?.error).toContain(`the Lease is now held by "${stolen}"`);
    expect(api.writes().some((request) => request.path.endsWith("/s3"))).toBe(false);
    expect(deployLease()).toMatchObject({ holderIdentity: stolen });
  });

  it("keeps a node its admin had cordoned cordoned after deploying it", async () => {
    api.node("a3").unschedulable = true;

    const outcome = await runDeploy(options({ only: ["a3"] }));

    expect(outcome.ok).toBe(true);
    expect(api.node("a3").unschedulable).toBe(true);
  });

  it("--dry-run prints every step's command and changes nothing: no API call, no subprocess, no state", async () => {
    const outcome = await runDeploy(
      options({ dryRun: true, openAccess: () => expect.fail("a dry run opened the API") }),
    );

    expect(outcome.ok).toBe(true);
    expect(api.requests).toEqual([]);
    expect(await calls()).toEqual([]);
    expect(existsSync(join(dir, "state"))).toBe(false);
    const planned = events.filter(
      (event) => event.type === "deploy.step" && event.status === "planned",
    );
    expect(planned).toHaveLength(6 * 7);
    expect(
      planned.find(
        (event) => event.type === "deploy.step" && event.host === "s2" && event.step === "build",
      ),
    ).toMatchObject({
      detail: `${script} build s2 /lab`,
    });
  });
});
