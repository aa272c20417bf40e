import { BlockList, isIP } from 'node:net';

/**
 * The one spelling of an address, so that every spelling of it is one client: an IPv4-mapped IPv6 address in any form
 * (`::ffff:10.0.0.1`, `::FFFF:a00:1`, `0:0:0:0:0:ffff:10.0.0.1`) becomes its IPv4 address, which a dual-stack
 * socket's IPv4 peer is and which trusted-proxy lists match either way; any other IPv6 address its RFC 5952 form
 * (lowercase, no leading zeros, the longest run of zero groups as `::`; a zone is kept as it is). The other forms that
 * carry an IPv4 address (translated, compatible, NAT64) stay IPv6 addresses: what they say of the host is not taken
 * for its identity (a trusted-proxy entry or loopback must not match them by their IPv4 part); {@link clientKey} counts
 * them per host. An IPv4 address, or anything that is not an address, is returned as it is.
 */
export function normalizeIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  // The common case, a dual-stack listener's IPv4 peer, without the general path.
  if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) return ip.slice(7);
  const groups = ipv6Groups(ip);
  if (groups === undefined) return ip;
  if (isMapped(groups)) return ipv4Of(groups[6], groups[7]);
  const zone = ip.indexOf('%');
  return rfc5952(groups) + (zone === -1 ? '' : ip.slice(zone));
}

/**
 * The eight 16-bit groups of an IPv6 address (any case, `::`, a dotted IPv4 tail, a zone, which is dropped), or
 * undefined when `ip` is not an IPv6 address.
 */
export function ipv6Groups(ip: string): number[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  return expandIpv6(ip).map((group) => parseInt(group, 16));
}

/**
 * The IPv4 address of an IPv6 address that stands for an IPv4 host, which packets to it reach: IPv4-mapped
 * `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d` (SIIT, RFC 2765), IPv4-compatible `::a.b.c.d` (deprecated;
 * `::` and `::1` are themselves) and NAT64's well-known prefix `64:ff9b::/96` (RFC 6052: IPv4 clients of an IPv6-only
 * site arrive so through a translator). Undefined for any other address, 6to4 and Teredo included: those are IPv6
 * hosts that tunnel over IPv4.
 */
export function ipv4Host(groups: readonly number[]): string | undefined {
  const zeroUpTo = (n: number) => groups.slice(0, n).every((group) => group === 0);
  const mapped = isMapped(groups);
  const translated = zeroUpTo(4) && groups[4] === 0xffff && groups[5] === 0;
  const compatible = zeroUpTo(6) && (groups[6] !== 0 || groups[7] > 1);
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((group) => group === 0);
  return mapped || translated || compatible || nat64 ? ipv4Of(groups[6], groups[7]) : undefined;
}

/** Whether eight 16-bit groups are an IPv4-mapped address (`::ffff:0:0/96`). */
function isMapped(groups: readonly number[]): boolean {
  return (
    groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff
  );
}

/** Two 16-bit groups as a dotted IPv4 address. */
export function ipv4Of(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/** Eight 16-bit groups as RFC 5952 writes them: the longest run of two or more zero groups (the first) as `::`. */
function rfc5952(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < groups.length && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/**
 * A set of trusted proxy networks (CIDRs or single addresses, IPv4 and IPv6). Built once at boot; `has` is a
 * `node:net` BlockList lookup.
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly size: number;

  /** Throws naming the first entry that is not an address or CIDR. */
  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim();
      const [addr, bits, extra] = entry.split('/');
      const family = isIP(addr ?? '');
      const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
      if (
        family === 0 ||
        extra !== undefined ||
        !Number.isInteger(prefix) ||
        prefix < 0 ||
        prefix > (family === 4 ? 32 : 128)
      ) {
        throw new Error(`trusted proxy '${entry}' is not an IP address or CIDR`);
      }
      this.list.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
    this.size = entries.length;
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    const family = isIP(ip);
    return family !== 0 && this.list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * The client IP of a request: the socket peer, unless that peer is a trusted proxy, in which case the right-most
 * `X-Forwarded-For` entry that is not itself a trusted proxy. A peer outside the trusted set cannot move the answer,
 * whatever it writes in the header.
 */
export function resolveClientIp(
  socketIp: string,
  forwardedFor: string | string[] | undefined,
  trusted: TrustedProxies,
): string {
  let ip = normalizeIp(socketIp);
  if (forwardedFor === undefined || !trusted.has(ip)) return ip;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeIp(hops[i].trim());
    if (isIP(hop) === 0) return ip;
    ip = hop;
    if (!trusted.has(hop)) return hop;
  }
  return ip;
}

/**
 * Anonymises an IP for logs: IPv4 keeps its first three octets (`203.0.113.7` → `203.0.113.0`), IPv6 keeps its /48
 * (`2001:db8:1:2::5` → `2001:db8:1::`). A network as {@link clientKey} writes it (`2001:db8:1:2::/64`) is anonymised by
 * its address. Anything else becomes `unknown`.
 */
export function anonymizeIp(ip: string): string {
  const slash = ip.indexOf('/');
  const addr = normalizeIp(slash === -1 ? ip : ip.slice(0, slash));
  const family = isIP(addr);
  if (family === 4) return addr.slice(0, addr.lastIndexOf('.')) + '.0';
  if (family !== 6) return 'unknown';
  return (
    expandIpv6(addr)
      .slice(0, 3)
      .map((group) => group.replace(/^0+(?=.)/, ''))
      .join(':') + '::'
  );
}

/**
 * The key a client is counted under by per-client limits: an IPv4 address as it is, an IPv6 address as its network of
 * `v6PrefixBits` bits (`2001:db8:1:2::5` with 64 → `2001:db8:1:2::/64`). One IPv6 subscriber usually holds a whole /64
 * (often a /56 or /48) and may use any address in it, so counting single IPv6 addresses lets one client rotate
 * through fresh buckets. An IPv6 address that stands for an IPv4 host ({@link ipv4Host}: translated, compatible,
 * NAT64, as a translator in front of an IPv6-only site writes its IPv4 clients) is counted as that host, by its
 * address as given ({@link normalizeIp}'s spelling). Anything that is not an IP address is returned as it is.
 */
export function clientKey(ip: string, v6PrefixBits: number): string {
  if (!ip.includes(':') || v6PrefixBits >= 128) return ip;
  const groups = ipv6Groups(ip);
  if (groups === undefined) return ip;
  // An IPv4 host written as IPv6 by a translator (NAT64, SIIT) is a host of its own, not one of a /64 of them.
  if (ipv4Host(groups) !== undefined) return ip;
  let bits = v6PrefixBits;
  const kept: string[] = [];
  for (const group of groups) {
    if (bits <= 0) break;
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    kept.push((group & mask).toString(16));
    bits -= 16;
  }
  while (kept.length > 0 && kept[kept.length - 1] === '0') kept.pop();
  return `${kept.join(':')}${kept.length === 8 ? '' : '::'}/${v6PrefixBits}`;
}

function expandIpv6(addr: string): string[] {
  const zone = addr.indexOf('%');
  const bare = zone === -1 ? addr : addr.slice(0, zone);
  const [head = '', tail] = embeddedIpv4ToHex(bare).split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  return [...left, ...Array<string>(Math.max(missing, 0)).fill('0'), ...right];
}

/** `::ffff:192.0.2.1`-style tails (a dotted IPv4 address as the last 32 bits) as two hex groups. */
function embeddedIpv4ToHex(addr: string): string {
  const colon = addr.lastIndexOf(':');
  const tail = addr.slice(colon + 1);
  if (!tail.includes('.')) return addr;
  const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
  return `${addr.slice(0, colon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}
