import { describe, expect, it } from "vitest";
import {
  DEFAULT_DEPLOY_COMMANDS,
  needsReboot,
  parseBootFiles,
  renderCommand,
} from "../../src/deploy/command-templates.js";
import { sshOptions } from "../../src/ssh-options.js";

const values = { flake: "/etc/cluster", host: "node2", address: "192.168.1.12" };
const ssh = sshOptions({
  knownHostsFile: "/s/known_hosts",
  identityFile: undefined,
  port: undefined,
});

describe("deploy command templates", () => {
  it("renders the default switch as nixos-rebuild with the flake and target host", () => {
    expect(renderCommand(DEFAULT_DEPLOY_COMMANDS.switch, values, ssh)).toEqual([
      "nixos-rebuild",
      "switch",
      "--flake",
      "/etc/cluster#node2",
      "--target-host",
      "root@192.168.1.12",
    ]);
  });

  it("expands {ssh_options} into strict host key checking against metal's known_hosts", () => {
    const argv = renderCommand(DEFAULT_DEPLOY_COMMANDS.currentBoot, values, ssh);
    expect(argv.slice(0, 9)).toEqual([
      "ssh",
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "UserKnownHostsFile=/s/known_hosts",
      "-o",
      "GlobalKnownHostsFile=/dev/null",
    ]);
    expect(argv).toContain("root@192.168.1.12");
    // Host keys are checked exactly once, strictly, against metal's own file.
    expect(argv.filter((arg) => arg.startsWith("StrictHostKeyChecking="))).toEqual([
      "StrictHostKeyChecking=yes",
    ]);
    expect(argv.filter((arg) => arg.startsWith("UserKnownHostsFile="))).toEqual([
      "UserKnownHostsFile=/s/known_hosts",
    ]);
  });

  it("refuses a placeholder that is not known at that step", () => {
    expect(() => renderCommand(["readlink", "{toplevel}/kernel"], values, ssh)).toThrow(
      /\{toplevel\}/,
    );
  });

  it("reads kernel and initrd paths, one a line", () => {
    expect(parseBootFiles("/nix/store/a/bzImage\n/nix/store/b/initrd\n")).toEqual({
      kernel: "/nix/store/a/bzImage",
      initrd: "/nix/store/b/initrd",
    });
    expect(parseBootFiles("/nix/store/a/bzImage\n")).toBeUndefined();
  });

  it("reboots in auto mode only when the kernel or the initrd changed", () => {
    const current = { kernel: "k1", initrd: "i1" };
    expect(needsReboot("auto", current, { kernel: "k1", initrd: "i1" })).toBe(false);
    expect(needsReboot("auto", current, { kernel: "k2", initrd: "i1" })).toBe(true);
    expect(needsReboot("auto", current, { kernel: "k1", initrd: "i2" })).toBe(true);
    expect(needsReboot("always", current, current)).toBe(true);
    expect(needsReboot("never", current, { kernel: "k2", initrd: "i2" })).toBe(false);
  });
});
