import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Host } from "../../src/inventory/types.js";
import { bmcCredentialsPath, loadBmcCredentials } from "../../src/power/credentials.js";
import { createPowerDrivers } from "../../src/power/drivers.js";
import {
  PowerCommandError,
  PowerCredentialsError,
  PowerUnsupportedError,
} from "../../src/power/errors.js";
import { ipmiDriver, parsePowerStatus, type CommandRunner } from "../../src/power/ipmi.js";

const HOST: Host = {
  name: "node4",
  mac: "52:54:00:77:00:04",
  address: "10.77.0.14",
  prefixLength: 24,
  role: "agent",
  init: false,
  disk: "/dev/vda",
  arch: "x86_64",
  firstStage: undefined,
  rootSize: "1G",
  interface: undefined,
  power: { driver: "ipmi", address: "10.77.0.114" },
};
const CREDENTIALS = { username: "admin", password: "s3cret pass" };

interface Call {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

function recorder(answers: Array<{ exitCode: number; stdout?: string; stderr?: string }>) {
  const calls: Call[] = [];
  const run: CommandRunner = async (file, args, env) => {
    calls.push({ file, args, env });
    const answer = answers.shift() ?? { exitCode: 0 };
    return { exitCode: answer.exitCode, stdout: answer.stdout ?? "", stderr: answer.stderr ?? "" };
  };
  return { calls, run };
}

const PREFIX = ["-I", "lanplus", "-H", "10.77.0.114", "-U", "admin", "-E", "-N", "1", "-R", "3"];

describe("ipmi driver", () => {
  it("runs ipmitool lanplus with the password only in IPMI_PASSWORD, never on argv", async () => {
    const { calls, run } = recorder([]);
    const driver = ipmiDriver(HOST, "10.77.0.114", CREDENTIALS, run);
    await driver.on();
    await driver.off();
    expect(calls).toEqual([
      {
        file: "ipmitool",
        args: [...PREFIX, "chassis", "power", "on"],
        env: { IPMI_PASSWORD: "s3cret pass" },
      },
      {
        file: "ipmitool",
        args: [...PREFIX, "chassis", "power", "off"],
        env: { IPMI_PASSWORD: "s3cret pass" },
      },
    ]);
    for (const call of calls) expect(call.args.join(" ")).not.toContain("s3cret");
  });

  it("reads the power state from `Chassis Power is on|off` and refuses any other answer", async () => {
    expect(parsePowerStatus("Chassis Power is on\n")).toBe("on");
    expect(parsePowerStatus("Chassis Power is off\n")).toBe("off");
    expect(parsePowerStatus("Chassis Power is maybe\n")).toBeUndefined();
    const { run } = recorder([{ exitCode: 0, stdout: "garbage\x00\xff" }]);
    await expect(ipmiDriver(HOST, "10.77.0.114", CREDENTIALS, run).status()).rejects.toThrow(
      /answered `chassis power status` with "garbage/,
    );
  });

  it("cycles a running chassis, and powers on one that is off (BMCs ignore cycle when off)", async () => {
    const on = recorder([{ exitCode: 0, stdout: "Chassis Power is on\n" }]);
    await ipmiDriver(HOST, "10.77.0.114", CREDENTIALS, on.run).cycle();
    expect(on.calls.map((call) => call.args.slice(PREFIX.length).join(" "))).toEqual([
      "chassis power status",
      "chassis power cycle",
    ]);
    const off = recorder([{ exitCode: 0, stdout: "Chassis Power is off\n" }]);
    await ipmiDriver(HOST, "10.77.0.114", CREDENTIALS, off.run).cycle();
    expect(off.calls.map((call) => call.args.slice(PREFIX.length).join(" "))).toEqual([
      "chassis power status",
      "chassis power on",
    ]);
  });

  it("sets a one-time PXE boot, with the EFI flag for UEFI machines", async () => {
    const accepted = { exitCode: 0, stdout: "Set Boot Device to pxe\n" };
    const { calls, run } = recorder([accepted, accepted]);
    const driver = ipmiDriver(HOST, "10.77.0.114", CREDENTIALS, run);
    await driver.bootFromNetworkOnce("uefi");
    await driver.bootFromNetworkOnce("bios");
    expect(calls.map((call) => call.args.slice(PREFIX.length).join(" "))).toEqual([
      "chassis bootdev pxe options=efiboot",
      "chassis bootdev pxe",
    ]);
  });

  it("treats boot flags the BMC refused as a failure, though ipmitool exits 0", async () => {
    // What ipmitool 1.8.19 prints against OpenIPMI's ipmi_sim, which has no boot flag support.
    const { run } = recorder([
      {
        exitCode: 0,
        stderr:
          "Set Chassis Boot Parameter 4 failed: Invalid data field in request\nSet Chassis Boot Parameter 5 failed: Invalid data field in request\n",
      },
    ]);
    await expect(
      ipmiDriver(HOST, "10.77.0.114", CREDENTIALS, run).bootFromNetworkOnce("bios"),
    ).rejects.toThrow(/did not accept `chassis bootdev pxe`/);
  });

  it("names the host, the BMC and the fix when the BMC refuses, with the tool's output cut short", async () => {
    const { run } = recorder([
      {
        exitCode: 1,
        stderr: `Error: Unable to establish IPMI v2 / RMCP+ session${"x".repeat(5000)}`,
      },
    ]);
    const error = await ipmiDriver(HOST, "10.77.0.114", CREDENTIALS, run)
      .on()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PowerCommandError);
    expect((error as Error).message).toMatch(
      /^host "node4": the BMC at 10\.77\.0\.114 refused `chassis power on` \(ipmitool exit 1: Error: Unable to establish IPMI v2/,
    );
    expect((error as Error).message.length).toBeLessThan(900);
  });
});

describe("BMC credentials and driver choice", () => {
  let secrets: string;
  beforeEach(async () => {
    secrets = await mkdtemp(join(tmpdir(), "metal-power-"));
  });
  afterEach(() => rm(secrets, { recursive: true, force: true }));

  async function writeCredentials(text: string, mode = 0o600): Promise<string> {
    const file = bmcCredentialsPath(secrets, "node4");
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
    await chmod(file, mode);
    return file;
  }

  it("loads SECRETS/hosts/HOST/bmc.json and hands it to the ipmi driver", async () => {
    const file = await writeCredentials(JSON.stringify(CREDENTIALS));
    expect(file).toBe(join(secrets, "hosts", "node4", "bmc.json"));
    expect(await loadBmcCredentials(secrets, "node4")).toEqual(CREDENTIALS);
    const { calls, run } = recorder([]);
    const driver = await createPowerDrivers({ secretsDir: secrets, run })(HOST, {
      broadcastAddress: "10.77.0.255",
    });
    expect(driver.name).toBe("ipmi");
    await driver.on();
    expect(calls[0]?.env).toEqual({ IPMI_PASSWORD: CREDENTIALS.password });
  });

  it("refuses a missing, loose, malformed or oversized credentials file, saying how to write it", async () => {
    await expect(loadBmcCredentials(secrets, "node4")).rejects.toThrow(
      /no BMC credentials at .*bmc\.json; write it with: \(umask 077/,
    );
    await writeCredentials(JSON.stringify(CREDENTIALS), 0o644);
    await expect(loadBmcCredentials(secrets, "node4")).rejects.toThrow(
      /readable by others \(mode 644\); run chmod 600/,
    );
    await writeCredentials("{not json");
    await expect(loadBmcCredentials(secrets, "node4")).rejects.toBeInstanceOf(
      PowerCredentialsError,
    );
    await writeCredentials(JSON.stringify({ username: "admin" }));
    await expect(loadBmcCredentials(secrets, "node4")).rejects.toThrow(/needs "username"/);
    await writeCredentials(JSON.stringify({ username: "admin", password: "p".repeat(21) }));
    await expect(loadBmcCredentials(secrets, "node4")).rejects.toThrow(/at most 20 bytes/);
    await writeCredentials("null");
    await expect(loadBmcCredentials(secrets, "node4")).rejects.toThrow(/needs "username"/);
  });

  it("gives a host without power Wake-on-LAN, which can only power on", async () => {
    const sent: unknown[] = [];
    const driver = await createPowerDrivers({
      secretsDir: secrets,
      sendWakeOnLan: async (options) => void sent.push(options),
    })({ ...HOST, power: undefined }, { broadcastAddress: "10.77.0.255" });
    expect(driver.name).toBe("wol");
    expect([...driver.supports]).toEqual(["on"]);
    await driver.on();
    expect(sent).toEqual([{ mac: HOST.mac, broadcastAddress: "10.77.0.255" }]);
    await expect(driver.cycle()).rejects.toBeInstanceOf(PowerUnsupportedError);
    await expect(driver.bootFromNetworkOnce("uefi")).rejects.toThrow(
      /power driver "wol" cannot bootFromNetworkOnce/,
    );
  });
});
