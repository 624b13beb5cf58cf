import { defineConfig } from "vitest/config";

// Tests that need root, network namespaces or QEMU are named *.netns.test.ts; they create and
// remove their own namespaces, so they may run beside unit tests, but only one file at a time
// among themselves keeps two cores from being swamped by emulated machines.
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
          include: ["packages/*/test/**/*.netns.test.ts"],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
