import { describe, expect, it } from "vitest";
import {
  clientUuid,
  decodeDhcp,
  DEBIAN_FIRST_STAGES,
  DhcpMessageType,
  encodeDhcp,
  messageType,
  option,
  chainloadBootFile,
  inspectPxeRequest,
  proxyReply,
  pxeDiscoveryControl,
  readOption,
  vendorClass,
  type BootDecision,
  type DhcpPacket,
  type FirstStageBinaries,
  type ProxyReplyInput,
} from "../../src/index.js";
import { clientPacket } from "./client-packet.js";
import { CAPTURED_UUID, readCapture } from "./fixtures.js";

const SERVER = "10.77.0.2";
const HTTP_BASE = "http://10.77.0.2:8080";
const BOOT: BootDecision = { action: "boot", spec: { kernel: "/k", initrds: ["/i"] } };
const MAC = "52:54:00:77:00:01";

interface RequestShape {
  readonly message?: number;
  readonly arch?: number;
  readonly vendorClass?: string;
  readonly userClass?: string;
  readonly giaddr?: string;
  readonly ciaddr?: string;
  readonly op?: number;
  readonly withIpxeOption?: boolean;
  readonly flags?: number;
  readonly hops?: number;
  readonly relayAgentInformation?: ReadonlyMap<number, Buffer>;
}

function request(shape: RequestShape = {}): DhcpPacket {
  const options = new Map<number, Buffer>([
    option("messageType", shape.message ?? DhcpMessageType.discover),
    option("vendorClassIdentifier", shape.vendorClass ?? "PXEClient:Arch:00000:UNDI:002001"),
    option("clientMachineId", { type: 0, uuid: CAPTURED_UUID }),
  ]);
  if (shape.arch !== undefined) options.set(...option("clientArchitecture", [shape.arch]));
  if (shape.userClass !== undefined)
    options.set(...option("userClass", { format: "raw", classes: [shape.userClass] }));
  if (shape.withIpxeOption)
    options.set(...option("ipxeEncapsulated", new Map([[19, Buffer.from([1])]])));
  if (shape.relayAgentInformation)
    options.set(...option("relayAgentInformation", shape.relayAgentInformation));
  return clientPacket({
    op: shape.op ?? 1,
    hops: shape.hops ?? 0,
    xid: 0x1234abcd,
    flags: shape.flags ?? 0x8000,
    ciaddr: shape.ciaddr ?? "0.0.0.0",
    giaddr: shape.giaddr ?? "0.0.0.0",
    options,
  });
}

interface Case extends Partial<Omit<ProxyReplyInput, "bootFile">> {
  readonly request: DhcpPacket;
  readonly decision?: BootDecision;
  readonly firstStages?: FirstStageBinaries;
}

/** The whole decision as the server makes it: inspect, the chainload layer, then the reply. */
function decide({ decision = BOOT, firstStages = DEBIAN_FIRST_STAGES, ...input }: Case) {
  const port = input.port ?? 67;
  const client = inspectPxeRequest(input.request, port);
  if ("ignore" in client) return client;
  const answer = chainloadBootFile(client, decision, { httpBaseUrl: HTTP_BASE, firstStages });
  if ("ignore" in answer) return answer;
  return proxyReply({
    port,
    source: { address: "0.0.0.0", port: 68 },
    serverAddress: SERVER,
    broadcastAddress: "255.255.255.255",
    ...input,
    bootFile: answer.bootFile,
  });
}

function answered(overrides: Case) {
  const outcome = decide(overrides);
  if ("ignore" in outcome) throw new Error(`expected a reply, got ignore: ${outcome.ignore}`);
  // Every reply must survive the wire: encode and decode it as the client would.
  return { ...outcome, reply: decodeDhcp(encodeDhcp(outcome.reply)) };
}

describe("proxyReply on port 67", () => {
  it("answers a BIOS DISCOVER with an OFFER of undionly.kpxe over TFTP, broadcast", () => {
    const { reply, destination, bootFile } = answered({ request: request({ arch: 0 }) });
    expect(messageType(reply)).toBe(DhcpMessageType.offer);
    expect(bootFile).toBe("undionly.kpxe");
    expect(reply.file).toBe("undionly.kpxe");
    expect(readOption(reply, "bootFileName")).toBe("undionly.kpxe");
    expect(destination).toEqual({ address: "255.255.255.255", port: 68 });
  });

  it("never hands out an address and names us as server and next server", () => {
    const { reply } = answered({ request: request({ arch: 0 }) });
    expect(reply.yiaddr).toBe("0.0.0.0");
    expect(reply.siaddr).toBe(SERVER);
    expect(readOption(reply, "serverIdentifier")).toBe(SERVER);
    expect(reply.op).toBe(2);
    expect(reply.xid).toBe(0x1234abcd);
    expect(reply.chaddr.subarray(0, 6).toString("hex")).toBe("525400770001");
  });

  it("echoes PXEClient, copies option 97 and sets option 43 to 06 01 08 ff", () => {
    const { reply } = answered({ request: request({ arch: 0 }) });
    expect(vendorClass(reply)).toBe("PXEClient");
    expect(clientUuid(reply)).toBe(CAPTURED_UUID);
    expect(reply.options.get(43)?.toString("hex")).toBe("060108ff");
    expect(pxeDiscoveryControl(reply)).toBe(8);
  });

  it("treats a DISCOVER without option 93 as a BIOS client", () => {
    expect(answered({ request: request() }).bootFile).toBe("undionly.kpxe");
  });

  it.each([7, 9])("answers a UEFI x64 DISCOVER (arch %i) with ipxe.efi over TFTP", (arch) => {
    const { bootFile, reply } = answered({
      request: request({ arch, vendorClass: `PXEClient:Arch:0000${arch}:UNDI:003000` }),
    });
    expect(bootFile).toBe("ipxe.efi");
    expect(reply.file).toBe("ipxe.efi");
  });

  it("answers a UEFI HTTP boot DISCOVER (arch 16) with an http URL and HTTPClient", () => {
    const { reply, bootFile } = answered({
      request: request({ arch: 16, vendorClass: "HTTPClient:Arch:00016:UNDI:003000" }),
    });
    expect(bootFile).toBe(`${HTTP_BASE}/ipxe/ipxe.efi`);
    expect(readOption(reply, "bootFileName")).toBe(`${HTTP_BASE}/ipxe/ipxe.efi`);
    expect(vendorClass(reply)).toBe("HTTPClient");
    expect(reply.options.has(43)).toBe(false);
  });

  it.each([
    ["user class iPXE", { userClass: "iPXE" }],
    ["option 175", { withIpxeOption: true }],
  ])("answers iPXE (recognised by %s) with its script URL", (_name, shape) => {
    const { bootFile, reply } = answered({ request: request({ arch: 0, ...shape }) });
    expect(bootFile).toBe(`${HTTP_BASE}/boot/${MAC}.ipxe`);
    expect(reply.file).toBe(`${HTTP_BASE}/boot/${MAC}.ipxe`);
  });

  it("uses the policy's first-stage override (snponly.efi)", () => {
    const { bootFile } = answered({
      request: request({ arch: 7 }),
      decision: { ...BOOT, firstStage: "snponly.efi" },
    });
    expect(bootFile).toBe("snponly.efi");
  });

  it("gives a machine told to boot locally iPXE too (its script will say exit)", () => {
    expect(
      answered({ request: request({ arch: 0 }), decision: { action: "local" } }).bootFile,
    ).toBe("undionly.kpxe");
  });

  it("answers a relayed DISCOVER by unicast to the relay's port 67", () => {
    const { destination, reply } = answered({ request: request({ arch: 0, giaddr: "10.1.0.1" }) });
    expect(destination).toEqual({ address: "10.1.0.1", port: 67 });
    expect(reply.giaddr).toBe("10.1.0.1");
  });

  it("broadcasts to the configured broadcast address", () => {
    const { destination } = answered({
      request: request({ arch: 0 }),
      broadcastAddress: "10.77.0.255",
    });
    expect(destination).toEqual({ address: "10.77.0.255", port: 68 });
  });

  it("answers the captured DISCOVERs of iPXE and OVMF", () => {
    const bios = answered({ request: decodeDhcp(readCapture("ipxe-bios-discover")[0]!.payload) });
    expect(bios.bootFile).toBe(`${HTTP_BASE}/boot/${MAC}.ipxe`);
    const ovmf = answered({ request: decodeDhcp(readCapture("ovmf-native-discover")[0]!.payload) });
    expect(ovmf.bootFile).toBe("ipxe.efi");
    expect(ovmf.reply.flags).toBe(0x8000);
  });
});

describe("proxyReply to a relayed request (RFC 1542, RFC 2131 §4.1, RFC 3046)", () => {
  const RELAY = "10.78.0.1";
  const AGENT_INFO = new Map([
    [1, Buffer.from("eth1/vlan20")],
    [2, Buffer.from("525400aabbcc", "hex")],
  ]);

  it("sets the broadcast flag the client left clear, so the relay can deliver an OFFER without yiaddr", () => {
    const { reply, destination } = answered({
      request: request({ arch: 0, giaddr: RELAY, flags: 0, hops: 1 }),
    });
    expect(destination).toEqual({ address: RELAY, port: 67 });
    expect(reply.yiaddr).toBe("0.0.0.0");
    expect(reply.flags & 0x8000).toBe(0x8000);
    expect(reply.hops).toBe(0);
    expect(reply.giaddr).toBe(RELAY);
  });

  it("keeps the client's flags when the request was not relayed (RFC 2131 table 3)", () => {
    expect(answered({ request: request({ arch: 0, flags: 0 }) }).reply.flags).toBe(0);
  });

  it("echoes the relay agent information (option 82) whole, as the last option", () => {
    const { reply } = answered({
      request: request({ arch: 7, giaddr: RELAY, flags: 0, relayAgentInformation: AGENT_INFO }),
    });
    expect(readOption(reply, "relayAgentInformation")).toEqual(AGENT_INFO);
    expect([...reply.options.keys()].at(-1)).toBe(82);
  });

  it("echoes option 82 on a 4011 ACK too (all replies)", () => {
    const { reply } = answered({
      request: request({
        arch: 7,
        message: DhcpMessageType.request,
        ciaddr: "10.78.0.130",
        relayAgentInformation: AGENT_INFO,
      }),
      port: 4011,
      source: { address: "10.78.0.130", port: 4011 },
    });
    expect([...reply.options.keys()].at(-1)).toBe(82);
  });

  it("answers a request that crossed 16 relays, and ignores one that claims more", () => {
    expect(answered({ request: request({ giaddr: RELAY, hops: 16 }) }).reply.hops).toBe(0);
    expect(decide({ request: request({ giaddr: RELAY, hops: 17 }) })).toEqual({
      ignore: expect.stringMatching(/hops 17 exceeds the relay limit of 16/),
    });
  });
});

describe("proxyReply on port 4011", () => {
  it("ACKs a REQUEST by unicast back to where it came from", () => {
    const { reply, destination, bootFile } = answered({
      request: request({ arch: 7, message: DhcpMessageType.request, ciaddr: "10.77.0.130" }),
      port: 4011,
      source: { address: "10.77.0.130", port: 4011 },
    });
    expect(messageType(reply)).toBe(DhcpMessageType.ack);
    expect(destination).toEqual({ address: "10.77.0.130", port: 4011 });
    expect(bootFile).toBe("ipxe.efi");
    expect(reply.ciaddr).toBe("10.77.0.130");
    expect(reply.yiaddr).toBe("0.0.0.0");
  });

  it("ACKs the REQUEST OVMF sent to dnsmasq in the captured exchange", () => {
    const datagram = readCapture("ovmf-native-dnsmasq-proxy").find(
      (d) => d.destination.address === "10.77.0.2",
    )!;
    const { destination, bootFile } = answered({
      request: decodeDhcp(datagram.payload),
      port: 4011,
      source: datagram.source,
    });
    expect(destination).toEqual({ address: "10.77.0.130", port: 4011 });
    expect(bootFile).toBe("ipxe.efi");
  });
});

describe("proxyReply on port 4011, iPXE", () => {
  it("ACKs iPXE's boot server REQUEST back to its port 68, echoing the boot item (43.71)", () => {
    const datagram = readCapture("ipxe-bios-dnsmasq-proxy").find(
      (d) => d.destination.port === 4011,
    )!;
    expect(datagram.source.port).toBe(68);
    const { reply, destination, bootFile } = answered({
      request: decodeDhcp(datagram.payload),
      port: 4011,
      source: datagram.source,
    });
    expect(destination).toEqual({ address: "10.77.0.130", port: 68 });
    expect(bootFile).toBe(`${HTTP_BASE}/boot/${MAC}.ipxe`);
    expect(reply.options.get(43)?.toString("hex")).toBe("060108470480000000ff");
  });
});

describe("proxyReply ignores, with a reason", () => {
  it.each<[string, RequestShape, number, RegExp]>([
    ["a client that is not PXE", { vendorClass: "MSFT 5.0" }, 67, /not a PXE client/],
    ["a client without option 60", { vendorClass: "" }, 67, /not a PXE client/],
    [
      "a REQUEST on port 67 (the router's)",
      { message: DhcpMessageType.request },
      67,
      /REQUEST on port 67/,
    ],
    ["a DISCOVER on port 4011", {}, 4011, /DISCOVER on port 4011/],
    ["a RELEASE", { message: DhcpMessageType.release }, 67, /RELEASE/],
    ["a BOOTREPLY", { op: 2 }, 67, /not a BOOTREQUEST/],
    ["an unbootable architecture (ARM32)", { arch: 10 }, 67, /architecture 10/],
    [
      "arm64 without a configured binary",
      { arch: 11 },
      67,
      /no first-stage binary configured for uefi-arm64/,
    ],
    ["arm64 HTTP boot without a binary", { arch: 19, vendorClass: "HTTPClient" }, 67, /uefi-arm64/],
  ])("%s", (_name, shape, port, reason) => {
    const outcome = decide({ request: request(shape), port });
    expect(outcome).toEqual({ ignore: expect.stringMatching(reason) });
  });

  it("a machine the policy ignores, naming the policy's reason", () => {
    const outcome = decide({
      request: request({ arch: 0 }),
      decision: { action: "ignore", reason: "unknown MAC" },
    });
    expect(outcome).toEqual({ ignore: "boot policy: unknown MAC" });
  });

  it("a request whose option 93 is malformed", () => {
    const malformed = request();
    (malformed.options as Map<number, Buffer>).set(93, Buffer.from([0]));
    expect(decide({ request: malformed })).toEqual({
      ignore: expect.stringMatching(/malformed request: .*option 93/),
    });
  });

  it("a non-Ethernet client", () => {
    expect(decide({ request: { ...request(), htype: 6 } })).toEqual({
      ignore: expect.stringMatching(/not an Ethernet client/),
    });
  });

  it("answers arm64 once its binary is configured", () => {
    const { bootFile } = answered({
      request: request({ arch: 11 }),
      firstStages: { ...DEBIAN_FIRST_STAGES, "uefi-arm64": "arm64/snp.efi" },
    });
    expect(bootFile).toBe("arm64/snp.efi");
  });
});
