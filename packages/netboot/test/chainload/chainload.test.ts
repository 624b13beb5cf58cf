import { describe, expect, it } from "vitest";
import {
  archInfo,
  chainload,
  DEBIAN_FIRST_STAGES,
  type BootPolicy,
  type PxeClient,
} from "../../src/index.js";

const HTTP_BASE = "http://10.77.0.2:8080/";
const boot: BootPolicy = () => ({ action: "boot", spec: { kernel: "/k", initrds: [] } });

function client(arch: number | undefined, extra: Partial<PxeClient> = {}): PxeClient {
  const info = archInfo(arch);
  if (!info) throw new Error(`arch ${arch} not bootable`);
  return {
    mac: "52:54:00:77:00:01",
    arch: info,
    uuid: undefined,
    isIpxe: false,
    httpBoot: info.httpBoot,
    ...extra,
  } as PxeClient;
}

describe("chainload: the boot file a PXE client gets", () => {
  it("hands the DHCP layer a finished TFTP path, HTTP URL or script URL", () => {
    const files = chainload({ policy: boot, httpBaseUrl: HTTP_BASE });
    expect(files(client(0))).toEqual({ bootFile: "undionly.kpxe" });
    expect(files(client(7))).toEqual({ bootFile: "ipxe.efi" });
    expect(files(client(16))).toEqual({ bootFile: "http://10.77.0.2:8080/ipxe/ipxe.efi" });
    expect(files(client(0, { isIpxe: true }))).toEqual({
      bootFile: "http://10.77.0.2:8080/boot/52:54:00:77:00:01.ipxe",
    });
  });

  it("answers arm64 (option 93 = 11 by TFTP, 19 by HTTP) from one table entry", () => {
    const without = chainload({ policy: boot, httpBaseUrl: HTTP_BASE });
    expect(without(client(11))).toEqual({ ignore: expect.stringMatching(/uefi-arm64/) });
    const files = chainload({
      policy: boot,
      httpBaseUrl: HTTP_BASE,
      firstStages: { ...DEBIAN_FIRST_STAGES, "uefi-arm64": "snp-arm64.efi" },
    });
    expect(files(client(11))).toEqual({ bootFile: "snp-arm64.efi" });
    expect(files(client(19))).toEqual({ bootFile: "http://10.77.0.2:8080/ipxe/snp-arm64.efi" });
  });

  it("asks the policy with what the client said, and answers synchronously for a sync policy", async () => {
    const asked: unknown[] = [];
    const files = chainload({
      policy: (machine) => {
        asked.push(machine);
        return { action: "ignore", reason: "not in cluster.toml" };
      },
      httpBaseUrl: HTTP_BASE,
    });
    expect(files(client(7, { uuid: "u" }))).toEqual({ ignore: "boot policy: not in cluster.toml" });
    expect(files(client(16))).toEqual({ ignore: "boot policy: not in cluster.toml" });
    expect(asked).toEqual([
      {
        mac: "52:54:00:77:00:01",
        arch: 7,
        firmware: "uefi-x64",
        httpBoot: false,
        uuid: "u",
        stage: "dhcp",
      },
      {
        mac: "52:54:00:77:00:01",
        arch: 16,
        firmware: "uefi-x64",
        httpBoot: true,
        uuid: undefined,
        stage: "dhcp",
      },
    ]);
    const later = chainload({
      policy: async () => ({ action: "local", firstStage: "snponly.efi" }),
      httpBaseUrl: HTTP_BASE,
    });
    await expect(later(client(7))).resolves.toEqual({ bootFile: "snponly.efi" });
  });
});
