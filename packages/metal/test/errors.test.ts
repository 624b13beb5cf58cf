import { ConfigError as NetbootConfigError, TftpDecodeError } from "netboot";
import { LabConfigError, SerialTimeoutError } from "metal-lab";
import { describe, expect, it } from "vitest";
import { describeError, MetalError } from "../src/errors.js";
import { KubeconfigError } from "../src/deploy/errors.js";
import { LeaseConflict } from "../src/deploy/cluster-api.js";
import { NixMissingError } from "../src/nix/errors.js";
import { UnknownHostError } from "../src/state/errors.js";

describe("error roots", () => {
  it("name every error after the class that was thrown, however deep it derives", () => {
    const thrown = [
      new MetalError("root"),
      new KubeconfigError("unreadable"),
      new LeaseConflict("409"),
      new UnknownHostError("node9"),
      new NixMissingError(),
      new LabConfigError("comma in path"),
      new SerialTimeoutError("node1", /login:/, 1000, ""),
      new TftpDecodeError("short"),
      new NetbootConfigError("no kernel"),
    ];
    expect(thrown.map((error) => error.name)).toEqual([
      "MetalError",
      "KubeconfigError",
      "LeaseConflict",
      "UnknownHostError",
      "NixMissingError",
      "LabConfigError",
      "SerialTimeoutError",
      "TftpDecodeError",
      "ConfigError",
    ]);
    expect(String(new UnknownHostError("node9"))).toMatch(/^UnknownHostError: host "node9"/);
  });

  it("keep each subclass's own code and exit class beside the derived name", () => {
    const error = new KubeconfigError("unreadable");
    expect([error.code, error.exit]).toEqual(["DEPLOY_KUBECONFIG", "refused"]);
    expect(describeError(error)).toBe("DEPLOY_KUBECONFIG: unreadable");
  });
});
