/**
 * What the lab's two dnsmasq roles (the home router, router.ts, and the DHCP relay, relay.ts)
 * share: the program name and the wait for the log line that says it is ready.
 */
import type { ResultPromise } from "execa";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { HostToolError } from "./errors.js";

export const DNSMASQ = "dnsmasq";
const READY_TIMEOUT_MS = 10_000;
const POLL_MS = 100;

/**
 * Waits until dnsmasq's log file has `readyLine`; kills it and names its output when it exits
 * first or takes longer than READY_TIMEOUT_MS.
 */
export async function waitForDnsmasq(
  process: ResultPromise,
  logFile: string,
  readyLine: RegExp,
  role: string,
): Promise<void> {
  const log = () => readFile(logFile, "utf8").catch(() => "");
  let exited = false;
  void process.then(() => (exited = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!readyLine.test(await log())) {
    if (exited || Date.now() > deadline) {
      process.kill("SIGKILL");
      const result = await process;
      throw new HostToolError(
        DNSMASQ,
        `did not start ${role}: ${String(result.stderr ?? "")}${await log()}`,
        "Install dnsmasq-base (`apt-get install dnsmasq-base`) and check the log above",
      );
    }
    await sleep(POLL_MS);
  }
}
