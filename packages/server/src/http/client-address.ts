// Who the client is. Behind a reverse proxy the TCP peer is the proxy, and the client's address comes from
// the PROXY protocol header the proxy sends first (./proxy-protocol.ts, read by ./connection.ts) or from
// its X-Forwarded-For header, and is believed only when the peer is one of the configured trusted proxies
// (addresses and CIDR blocks): anyone else could claim any address. Everything that shows or counts client
// addresses (logs, status, the API, the per-address limits) reads clientAddress(socket), so they all agree.
// The address is kept on the socket itself (one symbol property, only for proxied connections).

import { BlockList, isIP } from 'node:net';
import type { Socket } from 'node:net';

/** Where a client address came from. */
export type AddressSource = 'peer' | 'proxy-protocol' | 'x-forwarded-for';

interface ForwardedAddress {
  address: string;
  /** 0 when unknown (X-Forwarded-For carries no port). */
  port: number;
  via: Exclude<AddressSource, 'peer'>;
}

const kClient = Symbol('mkvserve.clientAddress');
type AddressedSocket = Socket & { [kClient]?: ForwardedAddress };

/** `::ffff:1.2.3.4` (an IPv4 client of a dual-stack listener) -> `1.2.3.4`, so one client has one address. */
export function normalizeAddress(address: string): string {
  if (address.length > 7 && address.charCodeAt(0) === 0x3a && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address))
    return address.slice(7);
  return address;
}

/** The TCP peer's address (the proxy's, behind a proxy). */
export function peerAddress(socket: Socket): string {
  return normalizeAddress(socket.remoteAddress ?? '');
}

/** The client's address: from a trusted proxy when one told us, else the TCP peer's. */
export function clientAddress(socket: Socket): string {
  return (socket as AddressedSocket)[kClient]?.address ?? peerAddress(socket);
}

/** The client's port (0 when a proxy gave the address without one). */
export function clientPort(socket: Socket): number {
  const f = (socket as AddressedSocket)[kClient];
  return f ? f.port : (socket.remotePort ?? 0);
}

/** How the client address was learned. */
export function addressSource(socket: Socket): AddressSource {
  return (socket as AddressedSocket)[kClient]?.via ?? 'peer';
}

/** Records the client address a trusted proxy gave for this connection. */
export function setClientAddress(socket: Socket, address: string, port: number, via: ForwardedAddress['via']): void {
  (socket as AddressedSocket)[kClient] = { address: normalizeAddress(address), port, via };
}

/** A set of trusted proxy addresses (IPs and CIDR blocks, IPv4 and IPv6; IPv4-mapped IPv6 peers match the
 *  IPv4 entries). */
export class ProxyTrust {
  readonly size: number;
  private readonly list = new BlockList();

  /** `entries` were validated by the configuration (config.ts addressRangeProblem); a bad one throws. */
  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const slash = e.indexOf('/');
      const addr = slash < 0 ? e : e.slice(0, slash);
      const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (isIP(addr) === 0) throw new Error(`trusted proxy "${e}" is not an IP address or a CIDR block`);
      if (slash < 0) this.list.addAddress(addr, family);
      else this.list.addSubnet(addr, Number(e.slice(slash + 1)), family);
    }
    this.size = entries.length;
  }

  has(address: string): boolean {
    if (this.size === 0) return false;
    const a = normalizeAddress(address);
    const family = isIP(a);
    if (family === 0) return false;
    return this.list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** Most X-Forwarded-For entries looked at (from the right); a head is at most 16 KiB anyway. */
const MAX_FORWARDED_HOPS = 32;

/**
 * The client address in an X-Forwarded-For value, as nginx's `real_ip_recursive on` finds it: the entries
 * are read from the right (the hop nearest to us first), trusted proxies are skipped, and the first other
 * address is the client. Entries are `IP`, `IP:port` (IPv4) or `[IPv6]:port`; anything else (`unknown`,
 * obfuscated identifiers) ends the walk: undefined, and the peer's address is used.
 */
export function forwardedClient(value: string, trust: ProxyTrust): string | undefined {
  const parts = value.split(',');
  let last: string | undefined;
  for (let i = parts.length - 1, n = 0; i >= 0 && n < MAX_FORWARDED_HOPS; i--, n++) {
    const a = forwardedEntry(parts[i].trim());
    if (a === undefined) return undefined;
    last = a;
    if (!trust.has(a)) return a;
  }
  // Every entry is a trusted proxy: the leftmost one is as far as we can see.
  return last;
}

function forwardedEntry(e: string): string | undefined {
  if (isIP(e) !== 0) return normalizeAddress(e);
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::\d{1,5})?$/.exec(e);
  if (v6 && isIP(v6[1]) === 6) return normalizeAddress(v6[1]);
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(e);
  if (v4 && isIP(v4[1]) === 4) return v4[1];
  return undefined;
}
