import { describe, expect, it } from "vitest";
import { CALLBACK_GRACE_MS, hintsFor, type HostObservations } from "../../src/ui/hints.js";

const NOW = 10_000_000;
const quiet: HostObservations = {
  phase: "pxe",
  offers: 0,
  uefi: false,
  httpBoot: false,
  requestsOn4011: 0,
  tftpStarted: 0,
  httpFirstStage: false,
  tftpErrors: 0,
  scriptServed: false,
  abortedDownloads: 0,
  bootFilesDoneAt: undefined,
  policyErrors: 0,
  failureReason: undefined,
};
const ids = (seen: Partial<HostObservations>) =>
  hintsFor({ ...quiet, ...seen }, NOW).map((hint) => hint.id);

describe("failure hints", () => {
  it("gives no hint while a boot goes normally", () => {
    expect(ids({ offers: 1, scriptServed: true, bootFilesDoneAt: NOW - 1000 })).toEqual([]);
  });

  it("suspects the firewall on UDP 4011 when UEFI firmware keeps taking offers but never asks there", () => {
    expect(ids({ offers: 3, uefi: true })).toEqual(["uefi-4011-unanswered"]);
    expect(ids({ offers: 3, uefi: true, requestsOn4011: 1 })).toEqual([]);
  });

  it("points a UEFI HTTP boot client that fetched nothing at the HTTP port, never at 4011", () => {
    expect(ids({ offers: 3, uefi: true, httpBoot: true })).toEqual(["http-boot-url-unfetched"]);
    expect(ids({ offers: 3, uefi: true, httpBoot: true, httpFirstStage: true })).toEqual([]);
    expect(ids({ offers: 3, uefi: true, httpFirstStage: true })).toEqual([]);
  });

  it("suggests router options 66/67 when BIOS firmware ignores the proxy offer", () => {
    expect(ids({ offers: 2 })).toEqual([]);
    expect(ids({ offers: 3 })).toEqual(["proxy-offer-ignored"]);
    expect(ids({ offers: 3, tftpStarted: 1 })).toEqual([]);
  });

  it("points at the callback URL once the installer is overdue", () => {
    expect(ids({ scriptServed: true, bootFilesDoneAt: NOW - CALLBACK_GRACE_MS + 1 })).toEqual([]);
    expect(ids({ scriptServed: true, bootFilesDoneAt: NOW - CALLBACK_GRACE_MS - 1 })).toEqual([
      "no-callback",
    ]);
    expect(ids({ phase: "installer", bootFilesDoneAt: NOW - CALLBACK_GRACE_MS - 1 })).toEqual([]);
  });

  it("explains TFTP errors, aborted downloads and failures over the disk or the first boot", () => {
    expect(ids({ tftpErrors: 1 })).toEqual(["tftp-failed"]);
    expect(ids({ abortedDownloads: 1 })).toEqual(["download-aborted"]);
    expect(ids({ phase: "failed", failureReason: "disk /dev/sdb is too small" })).toEqual([
      "disk-mismatch",
    ]);
    expect(
      ids({
        phase: "failed",
        failureReason: "the installed system did not call back within 30 min",
      }),
    ).toEqual(["no-first-boot"]);
  });
});
