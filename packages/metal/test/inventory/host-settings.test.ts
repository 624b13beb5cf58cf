import { describe, expect, it } from "vitest";
import { hostSettings } from "../../src/inventory/host-settings.js";
import { loadInventory, parseInventory } from "../../src/inventory/load.js";
import { expectedPartitions } from "../helpers/disk-layout.js";

const LAB = new URL("../../../../examples/lab.toml", import.meta.url).pathname;

describe("hostSettings", () => {
  it("gives the init server clusterInit, the VIP as TLS SAN and the default disables", async () => {
    const settings = hostSettings(await loadInventory(LAB));
    expect(Object.keys(settings)).toEqual(["node1", "node2", "node3"]);
    expect(settings.node1).toEqual({
      name: "node1",
      fqdn: "node1.lab.home.arpa",
      mac: "52:54:00:77:00:01",
      address: "10.77.0.11",
      prefixLength: 24,
      gateway: "10.77.0.1",
      dns: ["10.77.0.1"],
      interface: null,
      role: "server",
      init: true,
      arch: "x86_64",
      disk: "/dev/vda",
      partitions: expectedPartitions("1G"),
      k3s: {
        role: "server",
        clusterInit: true,
        serverAddr: null,
        extraFlags: [
          "--tls-san=10.77.0.10",
          "--node-ip=10.77.0.11",
          "--disable=traefik",
          "--disable=servicelb",
        ],
      },
    });
  });

  it("points other servers and agents at the VIP; agents get only --node-ip", async () => {
    const settings = hostSettings(await loadInventory(LAB));
    expect(settings.node2?.k3s).toEqual({
      role: "server",
      clusterInit: false,
      serverAddr: "https://10.77.0.10:6443",
      extraFlags: [
        "--tls-san=10.77.0.10",
        "--node-ip=10.77.0.12",
        "--disable=traefik",
        "--disable=servicelb",
      ],
    });
    expect(settings.node3?.k3s).toEqual({
      role: "agent",
      clusterInit: false,
      serverAddr: "https://10.77.0.10:6443",
      extraFlags: ["--node-ip=10.77.0.13"],
    });
  });

  it("appends k3s.extra_flags after the disables and honours per-host root size and interface", () => {
    const inventory = parseInventory(
      `
[cluster]
name = "c"
domain = "example.org"
[network]
interface = "eth0"
subnet = "192.168.1.0/24"
gateway = "192.168.1.1"
dns = ["192.168.1.1", "1.1.1.1"]
vip = "192.168.1.40"
[k3s]
disable = ["traefik"]
extra_flags = ["--write-kubeconfig-mode=0640"]
[[hosts]]
name = "a"
mac = "52:54:00:12:34:01"
ip = "192.168.1.11/24"
role = "server"
init = true
disk = "/dev/sda"
root_size = "100G"
interface = "eno1"
arch = "aarch64"
`,
      "t.toml",
    );
    const a = hostSettings(inventory).a;
    expect(a?.k3s.extraFlags).toEqual([
      "--tls-san=192.168.1.40",
      "--node-ip=192.168.1.11",
      "--disable=traefik",
      "--write-kubeconfig-mode=0640",
    ]);
    expect(a?.partitions[1]?.size).toBe("100G");
    expect(a).toMatchObject({
      interface: "eno1",
      arch: "aarch64",
      dns: ["192.168.1.1", "1.1.1.1"],
    });
  });
});
