/**
 * The rollback watchdog against a real SSH target: OpenSSH's client, metal's default
 * currentGeneration / armRollback / confirm / rollback / k3sHealth templates unchanged, and a
 * dropbear "node" whose NixOS parts are stand-ins with the real layout: /nix/var/nix/profiles/
 * system -> system-N-link -> /nix/store/…-nixos-system-…, each system with its own
 * bin/switch-to-configuration (it installs that system's root authorized_keys, the way a NixOS
 * activation installs /etc), a nix-env that sets and switches profile generations, and
 * systemd-run/systemctl that keep a transient timer outside the SSH session. The admin side runs
 * a stand-in nixos-rebuild doing what nixos-rebuild-ng does for `switch --target-host` on the
 * target (set the profile, run its switch-to-configuration).
 *
 * Needs root: dropbear runs in a private mount namespace where temp directories are mounted over
 * /root and /nix and the stand-ins over the node's tools; the machine itself is never touched.
 */
import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa, type ResultPromise } from "execa";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_DEPLOY_COMMANDS } from "../../src/deploy/command-templates.js";
import { KUBECTL_DRAIN_DEFAULTS } from "../../src/deploy/drain-policy.js";
import type { DeployEvent } from "../../src/deploy/events.js";
import { KubeconfigFileAccess } from "../../src/deploy/kube-access.js";
import { runDeploy, type DeployOptions } from "../../src/deploy/rollout.js";
import { sshOptions } from "../../src/ssh-options.js";
import { FakeKubeApi } from "./fake-kube-api.js";
import { inventory } from "./harness.js";
import { selfSignedCertificate } from "./tls.js";
import { loopbackHost, startLoopbackDropbear } from "../helpers/loopback-target.js";

const SSH_PORT = 43_000 + (process.pid % 1000);
const CONFIRM_TIMEOUT_MS = 3_000;
const TEST_TIMEOUT_MS = 120_000;
const OLD_SYSTEM = "/nix/store/0aaa-nixos-system-a1-old";
const NEW_SYSTEM = "/nix/store/0bbb-nixos-system-a1-new";

/** On the node: sets (`--set PATH`) and switches (`--switch-generation N`) profile generations. */
const NIX_ENV = `#!/bin/sh
[ "$1" = -p ] || { echo "stand-in nix-env: expected -p PROFILE" >&2; exit 2; }
profile=$2; dir=$(dirname "$profile"); name=$(basename "$profile")
case $3 in
  --set)
    last=$(ls "$dir" | sed -n "s/^$name-\\([0-9]*\\)-link$/\\1/p" | sort -n | tail -1)
    next=$((\${last:-0} + 1))
    ln -sfn "$4" "$dir/$name-$next-link"
    ln -sfn "$name-$next-link" "$profile.tmp" && mv -T "$profile.tmp" "$profile"
    echo "nix-env --set generation $next" >> /nix/node.log ;;
  --switch-generation)
    [ -e "$dir/$name-$4-link" ] || { echo "error: generation $4 does not exist" >&2; exit 1; }
    ln -sfn "$name-$4-link" "$profile.tmp" && mv -T "$profile.tmp" "$profile"
    echo "nix-env --switch-generation $4" >> /nix/node.log ;;
  *) echo "stand-in nix-env: unsupported $3" >&2; exit 2 ;;
esac
`;

/** On the node: --on-active starts the command later in its own session, like PID 1 would. */
const SYSTEMD_RUN = `#!/bin/sh
unit=""; delay=""
while [ $# -gt 0 ]; do
  case $1 in
    --unit=*) unit=\${1#--unit=} ;;
    --on-active=*) delay=\${1#--on-active=} ;;
    --description=*|--timer-property=*) ;;
    -*) echo "stand-in systemd-run: unsupported $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
[ -n "$unit" ] && [ -n "$delay" ] || { echo "stand-in systemd-run: needs --unit and --on-active" >&2; exit 2; }
mkdir -p /nix/units
setsid sh -c 'sleep "$1"; unit=$2; shift 2; rm -f "/nix/units/$unit.timer"; echo "timer $unit.timer fired" >> /nix/node.log; exec "$@"' \\
  watchdog "$delay" "$unit" "$@" </dev/null >>/nix/node.log 2>&1 &
echo $! > "/nix/units/$unit.timer"
echo "Running timer as unit: $unit.timer"
`;

const SYSTEMCTL = `#!/bin/sh
case $1 in
  stop)
    if [ -e "/nix/units/$2" ]; then
      kill -- "-$(cat "/nix/units/$2")" 2>/dev/null; rm -f "/nix/units/$2"
      echo "systemctl stop $2" >> /nix/node.log
    else
      echo "Failed to stop $2: Unit $2 not loaded." >&2; exit 5
    fi ;;
  is-active) exit 0 ;;
  *) echo "stand-in systemctl: unsupported $1" >&2; exit 2 ;;
esac
`;

/** A system's activation: installs its own root authorized_keys, as NixOS installs /etc. */
const SWITCH_TO_CONFIGURATION = `#!/bin/sh
top=$(cd "$(dirname "$0")/.." && pwd -P)
echo "switch-to-configuration $1 $top" >> /nix/node.log
cp "$top/etc/authorized_keys" /root/.ssh/authorized_keys
`;

const A1 = loopbackHost("a1", { mac: "52:54:00:00:00:04" });

describe.skipIf(process.getuid?.() !== 0)(
  "rollback watchdog on a real SSH target",
  { timeout: TEST_TIMEOUT_MS },
  () => {
    let dir: string;
    let nix: string;
    let home: string;
    let api: FakeKubeApi;
    let kubeconfig: string;
    let dropbear: ResultPromise;
    let ssh: string[];
    let events: DeployEvent[];
    let tls: { key: string; cert: string };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "metal-rollback-"));
      home = join(dir, "root-home");
      nix = join(dir, "nix");
      const tools = join(dir, "node-tools");
      await mkdir(join(home, ".ssh"), { recursive: true, mode: 0o700 });
      await chmod(home, 0o700);
      await mkdir(tools);
      await execa("dropbearkey", ["-t", "ed25519", "-f", join(dir, "host_key")]);
      await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "id")]);
      const hostKey = (await execa("dropbearkey", ["-y", "-f", join(dir, "host_key")])).stdout
        .split("\n")
        .find((line) => line.startsWith("ssh-"));
      await writeFile(join(dir, "known_hosts"), `[127.0.0.1]:${SSH_PORT} ${hostKey}\n`);
      for (const [name, text] of [
        ["nix-env", NIX_ENV],
        ["systemd-run", SYSTEMD_RUN],
        ["systemctl", SYSTEMCTL],
      ] as const) {
        await writeFile(join(tools, name), text, { mode: 0o755 });
      }
      // The admin side's nixos-rebuild: on the target, set the profile, then activate it.
      await writeFile(
        join(dir, "nixos-rebuild"),
        `#!/bin/sh
action=$1; shift
while [ $# -gt 0 ]; do case $1 in --target-host) target=$2; shift ;; esac; shift; done
ssh $NIX_SSHOPTS "$target" nix-env -p /nix/var/nix/profiles/system --set ${NEW_SYSTEM} &&
ssh $NIX_SSHOPTS "$target" /nix/var/nix/profiles/system/bin/switch-to-configuration "$action"
`,
        { mode: 0o755 },
      );
      await writeFile(join(dir, "build"), `#!/bin/sh\necho ${NEW_SYSTEM}\n`, { mode: 0o755 });

      const binds = [
        `mount --bind "${home}" /root`,
        `mount --bind "${nix}" /nix`,
        `mount --bind "${join(tools, "nix-env")}" /usr/bin/nix-env`,
        `mount --bind "${join(tools, "systemd-run")}" /usr/bin/systemd-run`,
        `mount --bind "${join(tools, "systemctl")}" /usr/bin/systemctl`,
      ];
      await mkdir(nix);
      ({ dropbear } = await startLoopbackDropbear({
        port: SSH_PORT,
        hostKey: join(dir, "host_key"),
        mounts: binds,
      }));
      ssh = sshOptions({
        knownHostsFile: join(dir, "known_hosts"),
        identityFile: join(dir, "id"),
        port: SSH_PORT,
      });
      tls = await selfSignedCertificate();
    });

    afterAll(async () => {
      dropbear?.kill("SIGTERM");
      await dropbear;
      await rm(dir, { recursive: true, force: true });
    });

    /** A node on the old system (generation 1); the new one locks root out when `locksOut`. */
    async function node(locksOut: boolean): Promise<void> {
      await rm(join(nix, "store"), { recursive: true, force: true });
      await rm(join(nix, "var"), { recursive: true, force: true });
      await rm(join(nix, "units"), { recursive: true, force: true });
      await rm(join(nix, "node.log"), { force: true });
      const adminKey = await readFile(join(dir, "id.pub"), "utf8");
      for (const [system, keys] of [
        [OLD_SYSTEM, adminKey],
        [NEW_SYSTEM, locksOut ? "" : adminKey],
      ] as const) {
        const root = join(nix, system.slice("/nix/".length));
        await mkdir(join(root, "bin"), { recursive: true });
        await mkdir(join(root, "etc"), { recursive: true });
        await writeFile(join(root, "bin", "switch-to-configuration"), SWITCH_TO_CONFIGURATION, {
          mode: 0o755,
        });
        await writeFile(join(root, "etc", "authorized_keys"), keys);
      }
      const profiles = join(nix, "var", "nix", "profiles");
      await mkdir(profiles, { recursive: true });
      await symlink(OLD_SYSTEM, join(profiles, "system-1-link"));
      await symlink("system-1-link", join(profiles, "system"));
      await writeFile(join(home, ".ssh", "authorized_keys"), adminKey, { mode: 0o600 });
    }

    async function nodeLog(): Promise<string[]> {
      return (await readFile(join(nix, "node.log"), "utf8").catch(() => "")).trim().split("\n");
    }

    async function profile(): Promise<string> {
      return readlink(join(nix, "var", "nix", "profiles", "system"));
    }

    beforeEach(async () => {
      api = new FakeKubeApi();
      api.addNode("s1", { etcd: true });
      api.addNode("a1");
      kubeconfig = join(dir, "kubeconfig");
      await writeFile(kubeconfig, api.kubeconfig(await api.start(tls), tls.cert));
      events = [];
    });

    afterEach(async () => {
      await api.stop();
    });

    function options(onEvent: (event: DeployEvent) => void = () => undefined): DeployOptions {
      return {
        inventory: inventory([{ ...A1, name: "s1", role: "server", init: true }, A1]),
        only: ["a1"],
        parallel: 1,
        reboot: "never",
        dryRun: false,
        stateDir: join(dir, `state-${Date.now()}`),
        commands: {
          ...DEFAULT_DEPLOY_COMMANDS,
          build: [join(dir, "build")],
          switch: [
            join(dir, "nixos-rebuild"),
            "switch",
            "--flake",
            "{flake}#{host}",
            "--target-host",
            "root@{address}",
          ],
        },
        sshOptions: ssh,
        openAccess: () => new KubeconfigFileAccess(kubeconfig),
        timing: {
          drainTimeoutMs: 10_000,
          readyTimeoutMs: 10_000,
          confirmTimeoutMs: CONFIRM_TIMEOUT_MS,
          pollMs: 100,
        },
        drainFlags: KUBECTL_DRAIN_DEFAULTS,
        onEvent: (event) => {
          events.push(event);
          onEvent(event);
        },
      };
    }

    it("switches, confirms over a new SSH connection and stops the watchdog: the new generation stays", async () => {
      await node(false);

      const outcome = await runDeploy(options());

      expect(outcome).toMatchObject({ ok: true, deployed: ["a1"] });
      expect(await profile()).toBe("system-2-link");
      // Past the moment the watchdog would have fired: it was stopped, nothing rolled back.
      await sleep(CONFIRM_TIMEOUT_MS + 1_000);
      expect(await profile()).toBe("system-2-link");
      const log = await nodeLog();
      expect(log).toEqual([
        "nix-env --set generation 2",
        `switch-to-configuration switch ${NEW_SYSTEM}`,
        expect.stringMatching(/^systemctl stop metal-rollback-[0-9a-f]{8}\.timer$/),
      ]);
      expect(api.node("a1").unschedulable).toBe(false);
    });

    it("rolls a node that is not Ready after its switch back over SSH to the previous generation, then uncordons it", async () => {
      await node(false);

      const outcome = await runDeploy(
        options((event) => {
          if (event.type !== "deploy.step" || event.host !== "a1") return;
          if (event.step === "confirm" && event.status === "done") api.setReady("a1", false);
          if (event.step === "rollback" && event.status === "start") api.setReady("a1", true);
        }),
      );

      expect(outcome.failures).toMatchObject([{ host: "a1", step: "wait-ready" }]);
      expect(outcome.failures[0]?.recovery[0]).toBe(
        "a1 was rolled back (metal switched it back to generation 1) and uncordoned",
      );
      expect(await profile()).toBe("system-1-link");
      expect((await nodeLog()).slice(-2)).toEqual([
        "nix-env --switch-generation 1",
        `switch-to-configuration switch ${OLD_SYSTEM}`,
      ]);
      expect(api.node("a1").unschedulable).toBe(false);
    });

    it("a node metal can no longer reach after its switch rolls itself back when unconfirmed; metal then uncordons it", async () => {
      await node(true);

      const outcome = await runDeploy(options());

      expect(outcome.failures).toMatchObject([{ host: "a1", step: "confirm" }]);
      expect(outcome.failures[0]?.recovery[0]).toBe(
        "a1 was rolled back (its watchdog switched it back to generation 1 by itself) and uncordoned",
      );
      expect(await profile()).toBe("system-1-link");
      const log = await nodeLog();
      expect(log).toContainEqual(
        expect.stringMatching(/^timer metal-rollback-[0-9a-f]{8}\.timer fired$/),
      );
      expect(log.slice(-2)).toEqual([
        "nix-env --switch-generation 1",
        `switch-to-configuration switch ${OLD_SYSTEM}`,
      ]);
      // The old system's keys are back: metal reached it again to see generation 1.
      expect(await readFile(join(home, ".ssh", "authorized_keys"), "utf8")).toContain(
        "ssh-ed25519",
      );
      expect(api.node("a1").unschedulable).toBe(false);
    });
  },
);
