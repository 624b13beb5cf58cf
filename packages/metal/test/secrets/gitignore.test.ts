import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";

/** `git check-ignore` with the repository's own .gitignore, on names that need not exist. */
function ignored(file: string): boolean {
  try {
    execFileSync("git", ["check-ignore", "--no-index", "-q", file], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("the repository's .gitignore", () => {
  it("ignores private key files and the state directory wherever they land", () => {
    for (const file of [
      ".metal/secrets/admin/age.key",
      "hosts/node1/ssh_host_ed25519_key",
      "hosts/node1/ssh_host_ed25519_key.previous",
      "admin/id_ed25519",
      "examples/age.key",
    ]) {
      expect(ignored(file), file).toBe(true);
    }
  });

  it("keeps what the secrets model commits: public keys, recipients, rules, encrypted files", () => {
    for (const file of [
      ".sops.yaml",
      "keys/admin.pub",
      "keys/admin.age",
      "keys/hosts/node1.pub",
      "keys/hosts/node1.age",
      "secrets/cluster.yaml",
      "secrets/hosts/node1.yaml",
    ]) {
      expect(ignored(file), file).toBe(false);
    }
  });
});
