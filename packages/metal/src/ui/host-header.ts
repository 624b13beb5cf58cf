/**
 * DNS rebinding defence for the dashboard. A page on the attacker's site can make the admin's
 * browser send requests to the dashboard through a name the attacker resolves to the dashboard's
 * address; the only trace of it is the Host header, which then carries the attacker's name. So
 * the dashboard answers only requests whose Host names it by the address the connection reached
 * (the listener's own `host:port`), or by a loopback name when that address is loopback (an SSH
 * tunnel such as `ssh -L 9000:127.0.0.1:8090` arrives with `localhost:9000`). A DNS name other
 * than `localhost` is never accepted: the attacker controls what such a name resolves to.
 */
import { isIP } from "node:net";

const LOOPBACK_NAMES = new Set(["localhost", "::1"]);
const IPV4_MAPPED_PREFIX = "::ffff:";
const DEFAULT_HTTP_PORT = 80;

function isLoopback(address: string): boolean {
  return LOOPBACK_NAMES.has(address) || (isIP(address) === 4 && address.startsWith("127."));
}

/** `name:port`, `[v6]:port` or a bare name: Host is uri-host [":" port] (RFC 9110 §7.2), port 80 for http when absent (§4.2.1). */
function parseHost(header: string): { name: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(header);
  if (!match) return undefined;
  const name = (match[1] ?? match[2] ?? "").toLowerCase();
  return { name, port: match[3] === undefined ? DEFAULT_HTTP_PORT : Number(match[3]) };
}

function plainAddress(address: string): string {
  return address.startsWith(IPV4_MAPPED_PREFIX) && isIP(address.slice(IPV4_MAPPED_PREFIX.length))
    ? address.slice(IPV4_MAPPED_PREFIX.length)
    : address.toLowerCase();
}

/** Whether `hostHeader` names the listener the connection reached at `localAddress:localPort`. */
export function isOwnHost(
  hostHeader: string | undefined,
  localAddress: string | undefined,
  localPort: number | undefined,
): boolean {
  if (hostHeader === undefined || localAddress === undefined) return false;
  const host = parseHost(hostHeader);
  if (!host) return false;
  const local = plainAddress(localAddress);
  if (host.name === local && host.port === localPort) return true;
  return isLoopback(local) && isLoopback(host.name);
}
