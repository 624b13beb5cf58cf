import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  createBootHttpServer,
  NetbootEvents,
  staticPolicy,
  type BootPolicy,
} from "../../src/index.js";
import {
  grubHttpDevice,
  grubQuote,
  renderGrubBootConfig,
  renderGrubPrefixConfig,
} from "../../src/grub/config.js";

const MAC = "52:54:00:77:40:0b";

describe("GRUB configs for the arm64 first stage", () => {
  it("hands the prefix config over to the machine's own config on the HTTP server", () => {
    const config = renderGrubPrefixConfig("http://10.77.0.2:8080", "/boot");
    expect(config).toContain("configfile (http,10.77.0.2:8080)/boot/${net_default_mac}.grub\n");
    expect(config).toMatch(/exit 1\n$/);
  });

  it("quotes every word it did not write, so GRUB expands nothing in it", () => {
    const config = renderGrubBootConfig({
      title: "t",
      device: "(http,10.77.0.2:8080)",
      kernelPath: `/files/a/vmlinuz?mac=${MAC}`,
      initrdPaths: ["/files/b/initrd"],
      cmdline: "console=ttyAMA0 metal.token=$x;reboot",
    });
    expect(config).toContain(
      `linux '(http,10.77.0.2:8080)/files/a/vmlinuz?mac=${MAC}' 'console=ttyAMA0' 'metal.token=$x;reboot'\n`,
    );
    expect(config).toContain("initrd '(http,10.77.0.2:8080)/files/b/initrd'\n");
  });

  it.each([
    ["a single quote", "a'b"],
    ["a newline", "a\nb"],
    ["a NUL", "a\u0000b"],
  ])("refuses a command line word with %s", (_name, word) => {
    expect(() => grubQuote(word, "kernel command line word")).toThrow(ConfigError);
  });

  it.each(["https://h:1", "http://h:1/path", "ftp://h", "http://h 1"])(
    "refuses %s as an HTTP device",
    (url) => expect(() => grubHttpDevice(url)).toThrow(ConfigError),
  );
});

describe("GET /boot/:mac.grub", () => {
  function server(policy: BootPolicy) {
    return createBootHttpServer({
      policy,
      events: new NetbootEvents(),
      baseUrl: "http://10.77.0.2:8080",
    });
  }

  it("answers the same decision as the iPXE script, with Content-Length as GRUB matches it", async () => {
    const asked: unknown[] = [];
    const { app } = server((machine) => {
      asked.push(machine);
      return { action: "boot", spec: { kernel: "/etc/hostname", initrds: [], cmdline: "a=1" } };
    });
    const grub = await app.inject({ method: "GET", url: `/boot/${MAC}.grub` });
    const ipxe = await app.inject({ method: "GET", url: `/boot/${MAC}.ipxe` });
    expect(grub.statusCode).toBe(200);
    expect(grub.body).toMatch(/^linux '\(http,10\.77\.0\.2:8080\)\/files\/\w+\/hostname\?mac=/m);
    expect(grub.body).toContain(" 'a=1'");
    expect(ipxe.body).toContain("a=1");
    // One policy question per request, the same for both languages.
    expect(asked).toEqual([
      expect.objectContaining({ mac: MAC, stage: "script" }),
      expect.objectContaining({ mac: MAC, stage: "script" }),
    ]);
    expect(asked[0]).toEqual(asked[1]);
  });

  it("spells Content-Length as GRUB's HTTP client matches it (grub-core/net/http.c)", async () => {
    const boot = server(staticPolicy({ kernel: "/etc/hostname", initrds: [] }));
    const url = await boot.listen({ host: "127.0.0.1", port: 0 });
    try {
      const { port } = new URL(url);
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), "127.0.0.1", () =>
          socket.write(
            `GET /boot/${MAC}.grub HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
          ),
        );
        let text = "";
        socket.on("data", (chunk) => (text += chunk.toString()));
        socket.on("end", () => resolve(text));
        socket.on("error", reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.1 200 /);
      expect(raw).toMatch(/\r\nContent-Length: \d+\r\n/);
    } finally {
      await boot.close();
    }
  });

  it("boots the local disk with exit, and 404s a machine the policy ignores", async () => {
    const local = server(() => ({ action: "local" }));
    expect((await local.app.inject({ url: `/boot/${MAC}.grub` })).body).toMatch(/^exit 0$/m);
    const ignore = server(() => ({ action: "ignore", reason: "unknown MAC" }));
    expect((await ignore.app.inject({ url: `/boot/${MAC}.grub` })).statusCode).toBe(404);
  });

  it("refuses other suffixes and malformed MACs", async () => {
    const { app } = server(staticPolicy({ kernel: "/etc/hostname", initrds: [] }));
    for (const url of [`/boot/${MAC}.cfg`, "/boot/nomac.grub", `/boot/${MAC}.grub.ipxe`])
      expect((await app.inject({ url })).statusCode).toBe(400);
  });

  it("serves the prefix config for GRUB loaded by UEFI HTTP boot", async () => {
    const { app } = server(staticPolicy({ kernel: "/etc/hostname", initrds: [] }));
    const response = await app.inject({ url: "/grub/grub.cfg" });
    expect(response.body).toContain("configfile (http,10.77.0.2:8080)/boot/");
  });
});
