/**
 * DHCP for network boot: a pure codec (packet.ts, options.ts, option-types.ts), the proxyDHCP
 * responder (proxy.ts, reply.ts) and the UDP server at the edge (server.ts). It answers PXE
 * clients with a boot file the caller chose (../chainload/ picks iPXE binaries and script URLs)
 * and never leases addresses: the network's own DHCP server does that.
 * Deliberately not here: address leasing, DHCPv6 and PXE over IPv6, plain BOOTP, PXE boot menus
 * and multicast boot server discovery. Known deviations from the RFCs: docs/pxe.md.
 */
export * from "./accessors.js";
export * from "./constants.js";
export * from "./option-types.js";
export * from "./options.js";
export * from "./packet.js";
export * from "./proxy.js";
export * from "./reply.js";
export * from "./server.js";
