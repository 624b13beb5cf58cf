import { describe, expect, it } from "vitest";
import {
  DEFAULT_INSTALL_COMMAND,
  expandTemplate,
  validateTemplate,
  type InstallPlaceholders,
} from "../../src/install/command-template.js";

const values: InstallPlaceholders = {
  flake: "/srv/homelab",
  host: "node1",
  ip: "192.168.1.143",
  address: "192.168.1.11",
  disk: "/dev/sda",
  key: "/home/admin/.metal/admin_ed25519",
  extra_files: "/tmp/metal-x/extra",
  known_hosts: "/srv/homelab/.metal/known_hosts/node1",
  work_dir: "/srv/homelab/.metal/work/node1",
};

describe("install command template", () => {
  it("expands the default nixos-anywhere command with no host-key option of its own (the pinned ssh on PATH enforces the key)", () => {
    const argv = expandTemplate(DEFAULT_INSTALL_COMMAND, values);
    expect(argv.slice(0, 5)).toEqual([
      "nixos-anywhere",
      "--flake",
      "/srv/homelab#node1",
      "--target-host",
      "root@192.168.1.143",
    ]);
    // nixos-anywhere would put its own /dev/null and `no` before these; pinned-ssh.test.ts proves
    // the key is enforced for every ssh it starts without them.
    expect(argv.filter((arg) => /KnownHosts|HostKey/i.test(arg))).toEqual([]);
  });

  it("keeps a value with spaces or shell characters inside one argument", () => {
    const argv = expandTemplate(["echo", "{host}"], { ...values, host: "a b; rm -rf /" });
    expect(argv).toEqual(["echo", "a b; rm -rf /"]);
  });

  it("names an unknown placeholder and lists the known ones", () => {
    expect(() => validateTemplate(["install", "{hostname}"])).toThrow(
      /unknown placeholder \{hostname\}.*known: \{flake\}/,
    );
  });

  it("refuses an empty command", () => {
    expect(() => validateTemplate([])).toThrow(/install.command is empty/);
  });
});
