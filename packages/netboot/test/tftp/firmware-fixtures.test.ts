import { describe, expect, it } from "vitest";
import { decodeTftp } from "../../src/tftp/decode.js";
import { encodeTftp } from "../../src/tftp/encode.js";
import { negotiateOptions } from "../../src/tftp/options.js";

import { capturedRequests as requests } from "./captures.js";

describe("read requests captured from firmware", () => {
  it("decodes iPXE's request for undionly.kpxe with blksize 1432 and tsize", async () => {
    const [request] = await requests("ipxe-bios-rrq.hex");
    const packet = decodeTftp(request as Buffer);
    expect(packet).toEqual({
      type: "RRQ",
      filename: "undionly.kpxe",
      mode: "octet",
      options: [
        { name: "blksize", value: "1432" },
        { name: "tsize", value: "0" },
      ],
    });
    expect(encodeTftp(packet)).toEqual(request);
    expect(negotiateOptions(packet.type === "RRQ" ? packet.options : [], 70_000)).toMatchObject({
      blockSize: 1432,
      acknowledged: [
        { name: "blksize", value: "1432" },
        { name: "tsize", value: "70000" },
      ],
    });
  });

  it("decodes OVMF's size probe and its windowsize 4 request for ipxe.efi", async () => {
    const [probe, fetch] = (await requests("ovmf-rrq.hex")).map((bytes) => decodeTftp(bytes));
    expect(probe).toEqual({
      type: "RRQ",
      filename: "ipxe.efi",
      mode: "octet",
      options: [
        { name: "tsize", value: "0" },
        { name: "blksize", value: "1468" },
        { name: "windowsize", value: "4" },
      ],
    });
    expect(fetch).toMatchObject({
      filename: "ipxe.efi",
      options: [
        { name: "blksize", value: "1468" },
        { name: "windowsize", value: "4" },
      ],
    });
    const negotiated = negotiateOptions(fetch?.type === "RRQ" ? fetch.options : [], 1);
    expect(negotiated).toMatchObject({ blockSize: 1468, windowSize: 4 });
  });
});
