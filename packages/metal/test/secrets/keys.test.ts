import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bech32 } from "@scure/base";
import sshpk from "sshpk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ageKeyFile,
  ageRecipientFromSshPublicKey,
  generateAgeIdentity,
  recipientOfAgeKeyFile,
} from "../../src/secrets/age.js";
import { generateEd25519KeyPair } from "../../src/secrets/ssh-keys.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "metal-keys-test-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function run(file: string, args: readonly string[], input?: string): string {
  return execFileSync(file, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
}

/**
 * What sops-nix does at boot with `sops.age.sshKeyPaths`: the X25519 identity of an Ed25519 SSH
 * key is the first half of SHA-512 of its seed (RFC 8032 §5.1.5), written as an age identity.
 */
async function ageIdentityFileFromSshKey(privateKeyPem: string): Promise<string> {
  const key = sshpk.parsePrivateKey(privateKeyPem, "ssh");
  const seed = key.parts.find((part) => part.name === "k")?.data;
  if (seed === undefined) throw new Error("no ed25519 seed in key");
  const scalar = ed25519.utils.toMontgomerySecret(Uint8Array.from(seed.subarray(0, 32)));
  const file = path.join(dir, `identity-${Math.random().toString(36).slice(2)}`);
  const identity = bech32.encode("age-secret-key-", bech32.toWords(scalar), 1023).toUpperCase();
  await writeFile(file, `${identity}\n`, { mode: 0o600 });
  return file;
}

describe("SSH host keys", () => {
  it("writes an OpenSSH private key that ssh-keygen loads and whose public half it reproduces", async () => {
    const pair = generateEd25519KeyPair("root@node1");
    expect(pair.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(pair.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\S+ root@node1\n$/);
    const file = path.join(dir, "ssh_host_ed25519_key");
    await writeFile(file, pair.privateKey, { mode: 0o600 });
    expect(run("ssh-keygen", ["-y", "-f", file])).toBe(pair.publicKey);
  });
});

describe("age recipients from SSH host keys", () => {
  it("lets the real age decrypt, with the host's SSH key, what was encrypted to the derived recipient", async () => {
    const pair = generateEd25519KeyPair("root@node1");
    const recipient = ageRecipientFromSshPublicKey(pair.publicKey);
    const identityFile = await ageIdentityFileFromSshKey(pair.privateKey);
    // age-keygen derives the recipient from the private side on its own: both paths must agree.
    expect(run("age-keygen", ["-y", identityFile]).trim()).toBe(recipient);
    const ciphertext = execFileSync("age", ["-r", recipient, "-a"], { input: "k3s-token-42" });
    expect(run("age", ["-d", "-i", identityFile], ciphertext.toString())).toBe("k3s-token-42");
  });

  it("refuses a non-Ed25519 key with the reason and the fix", () => {
    const rsa = execFileSync("sh", [
      "-c",
      `ssh-keygen -q -t rsa -b 1024 -N '' -f ${dir}/rsa && cat ${dir}/rsa.pub`,
    ]).toString();
    expect(() => ageRecipientFromSshPublicKey(rsa)).toThrow(/only ssh-ed25519 keys can/);
  });
});

describe("admin age identity", () => {
  it("writes a key file in age-keygen's format that the real age-keygen reads", async () => {
    const identity = generateAgeIdentity();
    const content = ageKeyFile(identity, new Date("2026-11-25T01:00:00.000Z"));
    expect(content).toMatch(
      /^# created: 2026-11-25T01:00:00Z\n# public key: age1[a-z0-9]{58}\nAGE-SECRET-KEY-1[A-Z0-9]{58}\n$/,
    );
    const file = path.join(dir, "admin-age.key");
    await writeFile(file, content, { mode: 0o600 });
    expect(run("age-keygen", ["-y", file]).trim()).toBe(identity.recipient);
    expect(recipientOfAgeKeyFile(content, file)).toBe(identity.recipient);
  });
});
