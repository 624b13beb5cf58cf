/**
 * Building replies the way RFC 2131 §4.3.1 (table 3) reads: start from the request, then apply
 * modifiers — `reply(request, withMessageType(offer), withServerId(ip), withBootFile(name))`.
 */
import { BootOp, HeaderSize } from "./constants.js";
import { option, type OptionName, type OptionValue, optionSpec } from "./options.js";
import type { DhcpPacket } from "./packet.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export type ReplyDraft = Mutable<Omit<DhcpPacket, "options">> & { options: Map<number, Buffer> };
export type ReplyModifier = (draft: ReplyDraft) => void;

const ZERO_ADDRESS = "0.0.0.0";

/**
 * A BOOTREPLY to `request`: xid, flags, giaddr, htype, hlen and chaddr copied (RFC 2131 table
 * 3), ciaddr copied (it is 0 in a DISCOVER; a REQUEST to a boot server carries the client's
 * address), yiaddr and siaddr 0, no options until a modifier adds them.
 */
export function reply(request: DhcpPacket, ...modifiers: readonly ReplyModifier[]): DhcpPacket {
  const draft: ReplyDraft = {
    op: BootOp.reply,
    htype: request.htype,
    hlen: request.hlen,
    hops: 0,
    xid: request.xid,
    secs: 0,
    flags: request.flags,
    ciaddr: request.ciaddr,
    yiaddr: ZERO_ADDRESS,
    siaddr: ZERO_ADDRESS,
    giaddr: request.giaddr,
    chaddr: Buffer.from(request.chaddr),
    sname: "",
    file: "",
    options: new Map(),
  };
  for (const modify of modifiers) modify(draft);
  return draft;
}

export function withOption<N extends OptionName>(name: N, value: OptionValue<N>): ReplyModifier {
  const [code, data] = option(name, value);
  return (draft) => void draft.options.set(code, data);
}

export function withMessageType(type: number): ReplyModifier {
  return withOption("messageType", type);
}

/** Option 54: how the client tells our replies apart from the router's. */
export function withServerId(address: string): ReplyModifier {
  return withOption("serverIdentifier", address);
}

/** The `flags` field (RFC 2131 §2): the broadcast bit is FLAG_BROADCAST. */
export function withFlags(flags: number): ReplyModifier {
  return (draft) => void (draft.flags = flags);
}

/** siaddr: the "next server" firmware fetches the boot file from over TFTP (RFC 2131 §2). */
export function withNextServer(address: string): ReplyModifier {
  return (draft) => void (draft.siaddr = address);
}

/** Option 60 in a reply: `PXEClient` or `HTTPClient`, as PXE 2.1 and UEFI HTTP boot expect. */
export function withVendorClass(vendorClass: string): ReplyModifier {
  return withOption("vendorClassIdentifier", vendorClass);
}

/**
 * The boot file in both places firmware looks: option 67 and the `file` field. A name too long
 * for the 128-octet field (a long URL) goes in option 67 only.
 */
export function withBootFile(name: string): ReplyModifier {
  const setOption = withOption("bootFileName", name);
  return (draft) => {
    setOption(draft);
    draft.file = Buffer.byteLength(name, "latin1") < HeaderSize.file ? name : "";
  };
}

/** Copies option `name` from the request unchanged when it is there (PXE 2.1: option 97). */
export function withOptionFrom(request: DhcpPacket, name: OptionName): ReplyModifier {
  const { code } = optionSpec(name);
  return (draft) => {
    const data = request.options.get(code);
    if (data !== undefined) draft.options.set(code, Buffer.from(data));
  };
}

/** Option 43 as PXE vendor sub-options (PXE 2.1 §2.4.1), e.g. {6: [8]} → `06 01 08 ff`. */
export function withPxeVendorOptions(subOptions: ReadonlyMap<number, Buffer>): ReplyModifier {
  return withOption("vendorSpecific", subOptions);
}
