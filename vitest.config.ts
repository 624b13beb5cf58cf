import { defineConfig } from "vitest/config";

// Tests that need root, network namespaces or QEMU are named *.netns.test.ts; they create and
// remove their own namespaces (named after the worker's PID, as are their loopback ports).
// vitest runs its groups one after another: unit files, then the namespace files that boot no
// emulated machine two at a time (they mostly wait on timeouts and processes), then the ones
// that boot QEMU machines one file at a time, which keeps two cores from being swamped.
// A new namespace test runs with the QEMU ones unless it is listed below.
const NETNS_WITHOUT_MACHINES = [
  "packages/lab/test/kernel-initramfs.netns.test.ts",
  "packages/lab/test/netns.netns.test.ts",
  "packages/lab/test/packet-loss.netns.test.ts",
  "packages/metal/test/agent-script.netns.test.ts",
  "packages/metal/test/check/check.netns.test.ts",
  "packages/metal/test/deploy/rollback.netns.test.ts",
  "packages/metal/test/deploy/ssh-tunnel.netns.test.ts",
  "packages/metal/test/install/faults.netns.test.ts",
  "packages/metal/test/install/installed-probe.netns.test.ts",
  "packages/metal/test/ui/metrics.netns.test.ts",
  "packages/netboot/test/dhcp/relay.netns.test.ts",
  "packages/netboot/test/hostile.netns.test.ts",
  "packages/netboot/test/readme.netns.test.ts",
  "packages/netboot/test/tftp/tftp.netns.test.ts",
  "packages/netboot/test/wol/wol.netns.test.ts",
];
const NETNS_TIMEOUTS = { testTimeout: 180_000, hookTimeout: 120_000 };

export default defineConfig({
  test: {
    reporters: ["default", "./scripts/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts"],
          // Several tests start the real CLI or a server process; on two busy cores a start
          // alone has taken several seconds, so vitest's 5 s default fails them for nothing.
          testTimeout: 30_000,
          // vitest's default is one worker fewer than the cores: one worker on two cores, where
          // most unit files wait on processes they start (the CLI, ssh, nix) rather than compute.
          maxWorkers: 3,
          exclude: ["**/*.netns.test.ts", "**/node_modules/**"],
        },
      },
      {
        extends: true,
        test: {
          name: "netns",
          include: NETNS_WITHOUT_MACHINES,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          ...NETNS_TIMEOUTS,
        },
      },
      {
        extends: true,
        test: {
          name: "netns-qemu",
          include: ["packages/*/test/**/*.netns.test.ts"],
          exclude: [...NETNS_WITHOUT_MACHINES, "**/node_modules/**"],
          fileParallelism: false,
          ...NETNS_TIMEOUTS,
        },
      },
    ],
  },
});
