import { NetbootEvents, parseMac } from "netboot";
import { describe, expect, it } from "vitest";
import { ignoreReasonClass, Metrics } from "../../src/ui/metrics.js";

const mac = parseMac("52:54:00:77:00:01");

describe("metrics", () => {
  it("keeps each instance's counts in its own registry", async () => {
    const first = new NetbootEvents();
    const a = new Metrics({ netbootEvents: first });
    const b = new Metrics({ netbootEvents: new NetbootEvents() });
    first.emit({ type: "wol.sent", mac, address: "10.77.0.255", port: 9 });
    expect(await a.text()).toContain("metal_wol_sent_total 1");
    expect(await b.text()).toContain("metal_wol_sent_total 0");
    a.close();
    first.emit({ type: "wol.sent", mac, address: "10.77.0.255", port: 9 });
    expect(await a.text()).toContain("metal_wol_sent_total 1");
  });

  it.each([
    ["not a PXE client: option 60 does not start with PXEClient or HTTPClient", "not-pxe"],
    ["REQUEST on port 67 is not ours to answer", "not-ours"],
    ["client architecture 2 (option 93) cannot be booted", "unsupported-arch"],
    ["boot policy: MAC not in the allowed list", "policy"],
    ["malformed request: option 53 is 0 bytes long", "malformed"],
    ["no DHCP message type (option 53): plain BOOTP", "malformed"],
    ["something new", "other"],
  ])("classes the ignore reason %j as %s", (reason, expected) => {
    expect(ignoreReasonClass(reason)).toBe(expected);
  });

  it("counts HTTP bytes and files by status, and downloads cut short", async () => {
    const events = new NetbootEvents();
    const metrics = new Metrics({ netbootEvents: events });
    const file = { mac, peer: "10.77.0.101", path: "/files/1/bzImage", durationMs: 10 };
    events.emit({ type: "http.file.end", ...file, status: 200, bytes: 1000, complete: true });
    events.emit({ type: "http.file.end", ...file, status: 206, bytes: 24, complete: false });
    const text = await metrics.text();
    expect(text).toContain('metal_http_files_total{status="200",complete="true"} 1');
    expect(text).toContain('metal_http_files_total{status="206",complete="false"} 1');
    expect(text).toContain("metal_http_bytes_total 1024");
  });
});
