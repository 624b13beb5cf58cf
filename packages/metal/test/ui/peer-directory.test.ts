import { parseMac, type NetbootEvent } from "netboot";
import { describe, expect, it } from "vitest";
import { MAX_PEER_ADDRESSES, PeerDirectory } from "../../src/ui/peer-directory.js";

const NODE3 = parseMac("52:54:00:77:00:03");
const LEASED = "10.77.0.132";

function request(fields: Partial<Extract<NetbootEvent, { type: "dhcp.request" }>>): NetbootEvent {
  return {
    type: "dhcp.request",
    time: 0,
    mac: NODE3,
    xid: 1,
    message: "REQUEST",
    port: 67,
    from: "0.0.0.0",
    arch: 16,
    vendorClass: "HTTPClient:Arch:00016:UNDI:003000",
    userClass: undefined,
    isIpxe: false,
    relay: undefined,
    requestedAddress: LEASED,
    clientAddress: undefined,
    ...fields,
  };
}

const firstStageDownload: NetbootEvent = {
  type: "http.file.start",
  time: 0,
  mac: undefined,
  peer: LEASED,
  path: "/ipxe/ipxe.efi",
  bytes: 1024,
  size: 1024,
};

describe("PeerDirectory", () => {
  it("ties a UEFI HTTP boot client's first-stage download to its MAC through the address its REQUEST asked for", () => {
    const peers = new PeerDirectory();
    expect(peers.learn(request({}))).toBe(NODE3);
    expect(peers.learn(firstStageDownload)).toBe(NODE3);
  });

  it("learns nothing from a DISCOVER, a relayed REQUEST or a REQUEST without option 50", () => {
    for (const event of [
      request({ message: "DISCOVER" }),
      request({ relay: "10.78.0.1" }),
      request({ requestedAddress: undefined }),
    ]) {
      const peers = new PeerDirectory();
      peers.learn(event);
      expect(peers.macOf(LEASED)).toBeUndefined();
    }
  });

  it("keeps learning a 4011 REQUEST's source address", () => {
    const peers = new PeerDirectory();
    peers.learn(request({ port: 4011, from: "10.77.0.130", requestedAddress: undefined }));
    expect(peers.macOf("10.77.0.130")).toBe(NODE3);
  });

  it("never lets a forged REQUEST's option 50 relabel an address a machine was seen speaking from", () => {
    const peers = new PeerDirectory();
    peers.learn(request({ port: 4011, from: LEASED, requestedAddress: undefined }));
    const stranger = parseMac("02:00:00:00:00:66");
    peers.learn(request({ mac: stranger }));
    peers.learn(request({ mac: stranger }));
    expect(peers.macOf(LEASED)).toBe(NODE3);
    expect(peers.learn(firstStageDownload)).toBe(NODE3);
  });

  it("keeps at most MAX_PEER_ADDRESSES under a flood of REQUESTs each claiming another address", () => {
    const peers = new PeerDirectory();
    const flood = MAX_PEER_ADDRESSES + 500;
    for (let index = 0; index < flood; index++)
      peers.learn(
        request({ requestedAddress: `10.${index >> 16}.${(index >> 8) & 255}.${index & 255}` }),
      );
    expect(peers.macOf("10.0.0.0")).toBeUndefined();
    const last = flood - 1;
    expect(peers.macOf(`10.${last >> 16}.${(last >> 8) & 255}.${last & 255}`)).toBe(NODE3);
    let kept = 0;
    for (let index = 0; index < flood; index++)
      if (peers.macOf(`10.${index >> 16}.${(index >> 8) & 255}.${index & 255}`)) kept++;
    expect(kept).toBe(MAX_PEER_ADDRESSES);
  });
});
