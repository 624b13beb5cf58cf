import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { parseListenAddress } from "../../src/commands/options.js";

describe("--dashboard HOST:PORT", () => {
  it.each([
    ["127.0.0.1:8090", { host: "127.0.0.1", port: 8090 }],
    ["0.0.0.0:9000", { host: "0.0.0.0", port: 9000 }],
    ["8091", { host: "127.0.0.1", port: 8091 }],
    [":8092", { host: "127.0.0.1", port: 8092 }],
    ["[::1]:8093", { host: "::1", port: 8093 }],
    ["admin.lan:8094", { host: "admin.lan", port: 8094 }],
  ])("reads %s", (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each(["localhost", "1.2.3.4:", "host:99999", "::1:80"])(
    "refuses %s with an example",
    (text) => {
      expect(() => parseListenAddress(text)).toThrow(InvalidArgumentError);
    },
  );
});
