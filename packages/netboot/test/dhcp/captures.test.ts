import { describe, expect, it } from "vitest";
import {
  bootClientClass,
  clientArch,
  clientMac,
  clientUuid,
  decodeDhcp,
  DhcpMessageType,
  ipxeOptions,
  isIpxe,
  messageType,
  pxeVendorOptions,
  readOption,
  userClasses,
  vendorClass,
} from "../../src/index.js";
import { CAPTURED_MAC, CAPTURED_UUID, readCapture } from "./fixtures.js";

function firstRequest(name: string) {
  const [datagram] = readCapture(name);
  return decodeDhcp(datagram?.payload ?? Buffer.alloc(0));
}

describe("DISCOVERs captured from QEMU firmware", () => {
  it("decodes the iPXE BIOS ROM: arch 0, UNDI 2.1, user class iPXE, option 175", () => {
    const discover = firstRequest("ipxe-bios-discover");
    expect(messageType(discover)).toBe(DhcpMessageType.discover);
    expect(clientMac(discover)).toBe(CAPTURED_MAC);
    expect(clientArch(discover)).toBe(0);
    expect(vendorClass(discover)).toBe("PXEClient:Arch:00000:UNDI:002001");
    expect(bootClientClass(discover)).toBe("PXEClient");
    expect(readOption(discover, "clientNetworkInterface")).toEqual({ type: 1, major: 2, minor: 1 });
    expect(readOption(discover, "userClass")).toEqual({ format: "raw", classes: ["iPXE"] });
    expect(isIpxe(discover)).toBe(true);
    // 175.19 = HTTP supported, 175.235 = iPXE version 1.0.0.
    expect(ipxeOptions(discover).get(19)).toEqual(Buffer.from([1]));
    expect(ipxeOptions(discover).get(235)).toEqual(Buffer.from([1, 0, 0]));
    expect(readOption(discover, "clientIdentifier")).toEqual({
      type: 1,
      id: Buffer.from("525400770001", "hex"),
    });
    // The iPXE BIOS ROM does not set the broadcast flag, yet cannot take unicast before it has
    // an address: one reason we always broadcast OFFERs.
    expect(discover.flags).toBe(0);
  });

  it("formats option 97 as the SMBIOS UUID QEMU was given (GUID byte order)", () => {
    for (const name of ["ipxe-bios-discover", "ipxe-efi-discover", "ovmf-native-discover"])
      expect(clientUuid(firstRequest(name))).toBe(CAPTURED_UUID);
  });

  it("decodes the iPXE EFI ROM: arch 7, UNDI 3.10, user class iPXE, option 175", () => {
    const discover = firstRequest("ipxe-efi-discover");
    expect(clientArch(discover)).toBe(7);
    expect(vendorClass(discover)).toBe("PXEClient:Arch:00007:UNDI:003010");
    expect(userClasses(discover)).toEqual(["iPXE"]);
    expect(isIpxe(discover)).toBe(true);
  });

  it("decodes OVMF native PXE: arch 7, broadcast flag, no user class, no 175", () => {
    const discover = firstRequest("ovmf-native-discover");
    expect(clientArch(discover)).toBe(7);
    expect(vendorClass(discover)).toBe("PXEClient:Arch:00007:UNDI:003000");
    expect(discover.flags).toBe(0x8000);
    expect(userClasses(discover)).toEqual([]);
    expect(isIpxe(discover)).toBe(false);
    expect(readOption(discover, "parameterRequestList")).toContain(67);
  });
});

describe("dnsmasq's proxyDHCP replies (reference)", () => {
  it("offers to OVMF without an address or boot file, then ACKs its REQUEST on 4011 with ipxe.0", () => {
    const exchange = readCapture("ovmf-native-dnsmasq-proxy");
    const proxyOffer = exchange.find(
      (d) => d.source.address === "10.77.0.2" && d.source.port === 67,
    );
    const offer = decodeDhcp(proxyOffer?.payload ?? Buffer.alloc(0));
    expect(offer.yiaddr).toBe("0.0.0.0");
    expect(offer.siaddr).toBe("10.77.0.2");
    expect(readOption(offer, "serverIdentifier")).toBe("10.77.0.2");
    expect(vendorClass(offer)).toBe("PXEClient");
    expect(clientUuid(offer)).toBe(CAPTURED_UUID);

    const request4011 = exchange.find((d) => d.destination.address === "10.77.0.2");
    expect(request4011?.source).toEqual({ address: "10.77.0.130", port: 4011 });
    const request = decodeDhcp(request4011?.payload ?? Buffer.alloc(0));
    expect(messageType(request)).toBe(DhcpMessageType.request);
    expect(request.ciaddr).toBe("10.77.0.130");

    const ack4011 = exchange.find((d) => d.destination.address === "10.77.0.130");
    expect(ack4011?.destination).toEqual({ address: "10.77.0.130", port: 4011 });
    const ack = decodeDhcp(ack4011?.payload ?? Buffer.alloc(0));
    expect(messageType(ack)).toBe(DhcpMessageType.ack);
    expect(ack.file).toBe("ipxe.0");
  });

  it("is asked by iPXE on 4011, from port 68, with a boot item (43.71), after a menu offer", () => {
    const exchange = readCapture("ipxe-bios-dnsmasq-proxy");
    const request = exchange.find((d) => d.destination.port === 4011);
    expect(request?.source).toEqual({ address: "10.77.0.130", port: 68 });
    const decoded = decodeDhcp(request?.payload ?? Buffer.alloc(0));
    expect(pxeVendorOptions(decoded).get(71)).toEqual(Buffer.from([0x80, 0, 0, 0]));
    const ack = exchange.find((d) => d.source.port === 4011);
    expect(ack?.destination).toEqual({ address: "10.77.0.130", port: 68 });
  });

  it("offers iPXE a PXE boot menu in option 43", () => {
    const exchange = readCapture("ipxe-bios-dnsmasq-proxy");
    const proxyOffer = exchange.find((d) => d.source.address === "10.77.0.2");
    const offer = decodeDhcp(proxyOffer?.payload ?? Buffer.alloc(0));
    const vendor = pxeVendorOptions(offer);
    expect(vendor.get(6)).toEqual(Buffer.from([3]));
    expect(vendor.get(10)?.subarray(1).toString()).toBe("PXE");
    expect(vendor.get(9)?.subarray(3).toString()).toBe("Network boot");
  });
});
