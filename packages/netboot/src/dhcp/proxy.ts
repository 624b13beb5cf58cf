/**
 * The proxyDHCP decisions (PXE 2.1 §2.2-§2.4, DESIGN §3), pure: who is a PXE client we answer,
 * and what the answer is. We never hand out addresses (yiaddr stays 0): the router does that;
 * we add the boot file. Two answer paths cover the firmware in the field (ADR 0010):
 *  - DISCOVER on 67 → OFFER with the boot file and option 43 {6: 8}, broadcast (or unicast to
 *    the relay), for firmware that takes the file from the offer (iPXE, most BIOS ROMs);
 *  - REQUEST (or INFORM) on 4011 → ACK unicast to the client, for firmware that asks the boot
 *    server again (OVMF and other EDK2-based UEFI).
 * Every refusal carries a human reason; the server turns it into a dhcp.ignored event.
 *
 * What the boot file IS (an iPXE binary, a script URL, anything else) is not decided here: the
 * caller hands in a finished boot file (see ../chainload/), as danderson's `dhcp4` knows
 * nothing of PXE payloads and `pixiecore` chooses them. Relayed requests (giaddr set) are
 * answered to the relay in a shape an RFC 1542 relay can deliver (see relayDelivery below).
 */
import { archInfo, type ArchInfo } from "../arch.js";
import { DhcpDecodeError } from "../errors.js";
import type { Mac } from "../mac.js";
import {
  clientArch,
  clientMac,
  clientUuid,
  bootClientClass,
  isIpxe,
  messageType,
  pxeVendorOptions,
} from "./accessors.js";
import {
  BootOp,
  DhcpMessageType,
  DhcpPort,
  DISCOVERY_USE_BOOT_FILE,
  FLAG_BROADCAST,
  messageTypeName,
  PxeSubOption,
  VendorClass,
} from "./constants.js";
import type { DhcpPacket } from "./packet.js";
import {
  reply,
  withBootFile,
  withMessageType,
  withFlags,
  withNextServer,
  withOptionFrom,
  withPxeVendorOptions,
  withServerId,
  withVendorClass,
  type ReplyModifier,
} from "./reply.js";

export const LIMITED_BROADCAST = "255.255.255.255";
const ZERO_ADDRESS = "0.0.0.0";
/**
 * RFC 1542 §4.1.1: "The relay agent MUST silently discard BOOTREQUEST messages whose 'hops'
 * field exceeds the value 16." A request that arrives with more came through a relay loop or
 * was forged: no relay could have passed it on, so no reply could reach its client.
 */
export const MAX_RELAY_HOPS = 16;

export interface Ignore {
  readonly ignore: string;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** Who is asking to boot: what a boot-file source (../chainload/) chooses the boot file from. */
export interface PxeClient {
  readonly mac: Mac;
  readonly arch: ArchInfo;
  /** Option 97 client machine identifier (SMBIOS UUID), as lower-case text. */
  readonly uuid: string | undefined;
  /** iPXE is running already (user class `iPXE` or option 175): it wants a script, not iPXE. */
  readonly isIpxe: boolean;
  /** UEFI HTTP boot: answer with an http:// URL and vendor class `HTTPClient`. */
  readonly httpBoot: boolean;
}

/** The boot file for a client, finished (a TFTP path or a URL), or why we stay silent. */
export type BootFileAnswer = { readonly bootFile: string } | Ignore;

/**
 * Where the responder gets boot files from. It may be asynchronous (a boot policy that reads a
 * store); a throw is reported as a policy.error event and the client gets no answer.
 */
export type BootFileSource = (client: PxeClient) => BootFileAnswer | Promise<BootFileAnswer>;

/** What the server needs to know about a PXE request before it asks for a boot file. */
export interface PxeRequest extends PxeClient {
  readonly xid: number;
  readonly message: number;
  /** Where a reply goes: the relay, the client itself (port 4011), or the broadcast address. */
  readonly relay: string | undefined;
  /** PXE boot item (43.71) of a boot server REQUEST, echoed in the ACK (PXE 2.1 §2.2.3). */
  readonly bootItem: Buffer | undefined;
}

/** Which message a port answers, and with what (PXE 2.1 §2.2.1, §2.2.3). */
const ANSWERS: ReadonlyMap<number, ReadonlyMap<number, number>> = new Map<
  number,
  ReadonlyMap<number, number>
>([
  [DhcpPort.server, new Map<number, number>([[DhcpMessageType.discover, DhcpMessageType.offer]])],
  [
    DhcpPort.pxeBootServer,
    new Map<number, number>([
      [DhcpMessageType.request, DhcpMessageType.ack],
      [DhcpMessageType.inform, DhcpMessageType.ack],
    ]),
  ],
]);

function why(error: unknown): string {
  return error instanceof DhcpDecodeError ? error.message : String(error);
}

/**
 * Validates a decoded request arriving on `port` and extracts what the policy is asked about,
 * or says why we stay silent (not a PXE client, a message we do not answer on this port, an
 * architecture we cannot boot, a malformed option we need).
 */
export function inspectPxeRequest(request: DhcpPacket, port: number): PxeRequest | Ignore {
  if (request.op !== BootOp.request) return { ignore: `not a BOOTREQUEST (op ${request.op})` };
  if (request.hops > MAX_RELAY_HOPS)
    return {
      ignore: `hops ${request.hops} exceeds the relay limit of ${MAX_RELAY_HOPS} (RFC 1542 §4.1.1)`,
    };
  const mac = clientMac(request);
  if (mac === undefined)
    return { ignore: `not an Ethernet client (htype ${request.htype}, hlen ${request.hlen})` };
  try {
    const message = messageType(request);
    if (message === undefined) return { ignore: "no DHCP message type (option 53): plain BOOTP" };
    const clientClass = bootClientClass(request);
    if (clientClass === undefined)
      return { ignore: "not a PXE client: option 60 does not start with PXEClient or HTTPClient" };
    const answers = ANSWERS.get(port);
    if (!answers?.has(message))
      return { ignore: `${messageTypeName(message)} on port ${port} is not ours to answer` };
    const code = clientArch(request);
    const arch = archInfo(code);
    if (arch === undefined)
      return { ignore: `client architecture ${code} (option 93) cannot be booted` };
    return {
      mac,
      xid: request.xid,
      message,
      arch,
      uuid: clientUuid(request),
      isIpxe: isIpxe(request),
      httpBoot: arch.httpBoot || clientClass === VendorClass.http,
      relay: request.giaddr === ZERO_ADDRESS ? undefined : request.giaddr,
      bootItem: pxeVendorOptions(request).get(PxeSubOption.bootItem),
    };
  } catch (error) {
    return { ignore: `malformed request: ${why(error)}` };
  }
}

export interface ProxyReplyInput {
  readonly request: DhcpPacket;
  /** The port the request came in on: 67 or 4011. */
  readonly port: number;
  /** Who sent the request (the UDP source): the ACK to a 4011 REQUEST goes back there. */
  readonly source: Endpoint;
  /** Our address on the client's network: option 54, siaddr and the TFTP server. */
  readonly serverAddress: string;
  /** The finished boot file (BootFileSource): a TFTP path, or a URL for iPXE and HTTP boot. */
  readonly bootFile: string;
  /** Where broadcast replies go: 255.255.255.255 or the subnet's broadcast address (ADR 0011). */
  readonly broadcastAddress: string;
}

export interface ProxyReply {
  readonly reply: DhcpPacket;
  readonly destination: Endpoint;
  readonly bootFile: string;
}

function destinationFor(input: ProxyReplyInput, pxe: PxeRequest): Endpoint {
  const { port, source } = input;
  // RFC 2131 §4.1: relayed messages are answered to the relay's server port.
  if (pxe.relay !== undefined) return { address: pxe.relay, port: DhcpPort.server };
  // PXE 2.1 §2.2.3: the boot server answers the client where it asked from (OVMF: port 4011).
  if (port === DhcpPort.pxeBootServer && source.address !== ZERO_ADDRESS) return source;
  // The client has no address yet and we give none, so there is nothing to unicast to: broadcast
  // whatever the flag says (RFC 2131 §4.1; the iPXE BIOS ROM leaves the flag clear).
  return { address: input.broadcastAddress, port: DhcpPort.client };
}

/**
 * How a reply to a relayed request (giaddr set) reaches the client through the relay:
 *  - broadcast flag set: the relay delivers by RFC 2131 §4.1 ("If the BROADCAST bit is cleared
 *    to 0, the message SHOULD be sent as an IP unicast to the IP address specified in the
 *    'yiaddr' field"; RFC 1542 §5.4 for relays). We never give a yiaddr, so with the flag clear
 *    an RFC 1542 relay (dnsmasq --dhcp-relay) has nowhere to unicast to and drops the reply
 *    (LAB-NOTES, December 2026). Setting the flag departs from RFC 2131 table 3 ("flags" copied
 *    from the request); docs/pxe.md lists it with the other known deviations.
 *  - option 82 echoed, whole and last: RFC 3046 §2.2 "DHCP servers claiming to support the
 *    Relay Agent Information option SHALL echo the entire contents of the Relay Agent
 *    Information option in all replies. Servers SHOULD copy the Relay Agent Information option
 *    as the last DHCP option in the response." The relay needs it (circuit id) to find the port
 *    the client is on, and strips it before delivery.
 * `hops` stays 0 in the reply (RFC 2131 table 3); requests over MAX_RELAY_HOPS are ignored.
 */
function relayDelivery(request: DhcpPacket): ReplyModifier[] {
  if (request.giaddr === ZERO_ADDRESS) return [withOptionFrom(request, "relayAgentInformation")];
  return [
    withFlags(request.flags | FLAG_BROADCAST),
    withOptionFrom(request, "relayAgentInformation"),
  ];
}

const DISCOVERY_CONTROL = Buffer.from([DISCOVERY_USE_BOOT_FILE]);
/**
 * The modifiers every reply of a kind shares, built once: the hot DISCOVER → OFFER path then
 * encodes only what depends on the request (docs/benchmarks.md, DHCP).
 */
const ANSWER_TYPE: ReadonlyMap<number, ReplyModifier> = new Map(
  [DhcpMessageType.offer, DhcpMessageType.ack].map((type) => [type, withMessageType(type)]),
);
const PXE_VENDOR_CLASS = withVendorClass(VendorClass.pxe);
const HTTP_VENDOR_CLASS = withVendorClass(VendorClass.http);
const USE_BOOT_FILE = withPxeVendorOptions(
  new Map([[PxeSubOption.discoveryControl, DISCOVERY_CONTROL]]),
);

function pxeVendorOptionsFor(pxe: PxeRequest): ReplyModifier {
  if (pxe.bootItem === undefined) return USE_BOOT_FILE;
  return withPxeVendorOptions(
    new Map([
      [PxeSubOption.discoveryControl, DISCOVERY_CONTROL],
      [PxeSubOption.bootItem, pxe.bootItem],
    ]),
  );
}

/**
 * The reply to a request on `port` carrying `bootFile`, or why we stay silent. Inspects the
 * request itself (see inspectPxeRequest), so it is safe on any packet.
 */
export function proxyReply(input: ProxyReplyInput): ProxyReply | Ignore {
  const pxe = inspectPxeRequest(input.request, input.port);
  if ("ignore" in pxe) return pxe;
  return answerPxeRequest(pxe, input);
}

/** The reply to a request inspectPxeRequest accepted as `pxe` (the server inspects once). */
export function answerPxeRequest(pxe: PxeRequest, input: ProxyReplyInput): ProxyReply {
  const { request, serverAddress, bootFile } = input;
  const answer = ANSWERS.get(input.port)?.get(pxe.message) as number;
  const modifiers: ReplyModifier[] = [
    ANSWER_TYPE.get(answer) as ReplyModifier,
    withServerId(serverAddress),
    withNextServer(serverAddress),
    pxe.httpBoot ? HTTP_VENDOR_CLASS : PXE_VENDOR_CLASS,
    withOptionFrom(request, "clientMachineId"),
    withBootFile(bootFile),
  ];
  // UEFI HTTP boot does not use PXE vendor options; PXE clients (iPXE included) would otherwise
  // wait ~3 s for boot server offers (PXE 2.1 §2.4.1; LAB-NOTES timings).
  if (!pxe.httpBoot) modifiers.push(pxeVendorOptionsFor(pxe));
  // Last, so option 82 is the last option of the reply (RFC 3046 §2.2).
  modifiers.push(...relayDelivery(request));
  return { reply: reply(request, ...modifiers), destination: destinationFor(input, pxe), bootFile };
}
