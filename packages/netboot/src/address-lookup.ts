/**
 * A `lookup` for dgram sockets that answers an address at once. dgram's `send` resolves every
 * destination through `lookup`, even an address; the default, dns.lookup, answers an IP literal
 * through process.nextTick (Node's lib/dns.js, `lookup`: `isIP(hostname)` → nextTick), so each
 * datagram would wait for a trip through the tick queue. Our servers only ever send to
 * addresses (a request's source, a relay's giaddr, the broadcast address); a name still goes to
 * dns.lookup.
 */
import dns from "node:dns";
import net from "node:net";

export function addressLookup(
  hostname: string,
  options: dns.LookupOneOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = net.isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dns.lookup(hostname, options, callback);
}
