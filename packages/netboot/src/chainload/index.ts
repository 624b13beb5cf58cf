/**
 * The chainload layer: WHAT a PXE client boots, decided above the DHCP responder (pixiecore's
 * role next to danderson's `dhcp4`, which knows nothing of PXE payloads). It asks the boot
 * policy about the machine, then picks the finished boot file:
 *  - iPXE already running → its script URL (`/boot/{mac}.ipxe`), so it never loads iPXE again;
 *  - PXE firmware → the first-stage binary for its firmware family, by TFTP path;
 *  - UEFI HTTP boot → the same binary as an http:// URL (`/ipxe/{binary}`).
 * The per-firmware table of first stages is a parameter (FirstStageBinaries, keyed by the
 * firmware family of arch.ts), so a new architecture is one entry:
 * `{ ...DEBIAN_FIRST_STAGES, "uefi-arm64": "snp-arm64.efi" }` answers option 93 = 11 by TFTP
 * and 19 by HTTP. Deliberately not here: packet fields, options, destinations (../dhcp/).
 */
import { firstStageUrl, ipxeScriptUrl, withoutTrailingSlashes } from "../boot-urls.js";
import type { BootFileAnswer, BootFileSource, PxeClient } from "../dhcp/proxy.js";
import {
  DEBIAN_FIRST_STAGES,
  firstStageFor,
  type FirstStageBinaries,
} from "../ipxe/first-stage.js";
import type { BootDecision, BootPolicy } from "../policy.js";

export interface ChainloadOptions {
  /** Who gets booted; asked once per DHCP request with stage "dhcp". */
  readonly policy: BootPolicy;
  /** `http://SERVER:PORT` of the boot HTTP server (a trailing slash is dropped). */
  readonly httpBaseUrl: string;
  /** First-stage file names per firmware family. Default: Debian's `ipxe` (BIOS, UEFI x64). */
  readonly firstStages?: FirstStageBinaries;
}

/**
 * The boot file for `client` given the policy's decision, or why it gets none. Pure. A
 * per-machine `firstStage` in the decision (e.g. `snponly.efi`) beats the table.
 */
export function chainloadBootFile(
  client: PxeClient,
  decision: BootDecision,
  options: Omit<ChainloadOptions, "policy">,
): BootFileAnswer {
  if (decision.action === "ignore") return { ignore: `boot policy: ${decision.reason}` };
  const httpBaseUrl = withoutTrailingSlashes(options.httpBaseUrl);
  if (client.isIpxe) return { bootFile: ipxeScriptUrl(httpBaseUrl, client.mac) };
  const binary = firstStageFor(
    client.arch.firmware,
    options.firstStages ?? DEBIAN_FIRST_STAGES,
    decision.firstStage,
  );
  if (binary === undefined)
    return {
      ignore: `no first-stage binary configured for ${client.arch.firmware} (option 93 = ${client.arch.code ?? "absent"})`,
    };
  return { bootFile: client.httpBoot ? firstStageUrl(httpBaseUrl, binary) : binary };
}

/**
 * A BootFileSource for ProxyDhcpServer: the policy's decision, then chainloadBootFile. A
 * synchronous policy gets a synchronous answer (no promise on the DISCOVER→OFFER path).
 */
export function chainload(options: ChainloadOptions): BootFileSource {
  const table = {
    httpBaseUrl: withoutTrailingSlashes(options.httpBaseUrl),
    firstStages: options.firstStages,
  };
  return (client) => {
    const decision = options.policy({
      mac: client.mac,
      arch: client.arch.code,
      firmware: client.arch.firmware,
      httpBoot: client.httpBoot,
      uuid: client.uuid,
      stage: "dhcp",
    });
    return decision instanceof Promise
      ? decision.then((settled) => chainloadBootFile(client, settled, table))
      : chainloadBootFile(client, decision, table);
  };
}
