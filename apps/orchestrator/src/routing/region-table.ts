import { LOCALITY_TOKEN } from '@shieldx/lb';
import { BlockList, isIP } from 'node:net';

/** Most lines a client-region table may have: a table this long is a mistake, not a map of networks. */
export const MAX_REGION_TABLE_LINES = 100_000;

interface V6Entry {
  readonly bits: number;
  readonly list: BlockList;
  readonly region: string;
}

/**
 * A CIDR → region table (ORCH_CLIENT_REGION_TABLE): lines `10.0.0.0/8 eu-1` (a bare address is a /32 or /128),
 * blank lines and `#` comments ignored. The longest matching prefix wins. IPv4 lookups parse the address into an
 * integer and probe one map per prefix length present (no allocation); IPv6 lookups test each IPv6 entry, longest
 * first.
 */
export class RegionTable {
  /** Prefix lengths present, longest first, with the regions of their networks by masked address. */
  private readonly v4: { readonly bits: number; readonly mask: number; readonly nets: Map<number, string> }[] = [];
  private readonly v6: V6Entry[] = [];
  /** Number of networks in the table. */
  readonly size: number;

  /**
   * @param text the file's content
   * @throws Error naming the first bad line (its number and what is wrong)
   */
  constructor(text: string) {
    const lines = text.split('\n');
    if (lines.length > MAX_REGION_TABLE_LINES) throw new Error(`more than ${MAX_REGION_TABLE_LINES} lines`);
    const byBits = new Map<number, Map<number, string>>();
    let size = 0;
    lines.forEach((raw, index) => {
      const hash = raw.indexOf('#');
      const line = (hash === -1 ? raw : raw.slice(0, hash)).trim();
      if (line === '') return;
      const where = `line ${index + 1}`;
      const [cidr, region, extra] = line.split(/\s+/);
      if (region === undefined || extra !== undefined) throw new Error(`${where}: write "CIDR region"`);
      if (!LOCALITY_TOKEN.test(region)) {
        throw new Error(`${where}: region '${region}' must be a lowercase label (1-63 of a-z, 0-9, -)`);
      }
      const [addr = '', bitsText, more] = cidr.split('/');
      const family = isIP(addr);
      const maxBits = family === 4 ? 32 : 128;
      const bits = bitsText === undefined ? maxBits : Number(bitsText);
      if (family === 0 || more !== undefined || !/^\d{1,3}$/.test(bitsText ?? '0') || bits > maxBits) {
        throw new Error(`${where}: '${cidr}' is not an IP address or CIDR`);
      }
      size++;
      if (family === 4) {
        let nets = byBits.get(bits);
        if (nets === undefined) byBits.set(bits, (nets = new Map<number, string>()));
        const key = (ipv4ToInt(addr) & maskOf(bits)) >>> 0;
        if (nets.has(key)) throw new Error(`${where}: '${cidr}' is listed twice`);
        nets.set(key, region);
      } else {
        const list = new BlockList();
        list.addSubnet(addr, bits, 'ipv6');
        this.v6.push({ bits, list, region });
      }
    });
    for (const bits of [...byBits.keys()].sort((a, b) => b - a)) {
      this.v4.push({ bits, mask: maskOf(bits), nets: byBits.get(bits) as Map<number, string> });
    }
    this.v6.sort((a, b) => b.bits - a.bits);
    this.size = size;
  }

  /** The region of `ip` (already normalised: no `::ffff:` prefix), or undefined when no network holds it. */
  lookup(ip: string): string | undefined {
    const v4 = ipv4ToInt(ip);
    if (v4 !== -1) {
      for (const { mask, nets } of this.v4) {
        const region = nets.get((v4 & mask) >>> 0);
        if (region !== undefined) return region;
      }
      return undefined;
    }
    if (this.v6.length === 0 || isIP(ip) !== 6) return undefined;
    for (const entry of this.v6) if (entry.list.check(ip, 'ipv6')) return entry.region;
    return undefined;
  }
}

/** The 32-bit mask of a prefix length (0 for /0). */
function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** A dotted-quad IPv4 address as an unsigned 32-bit integer, or -1 when `s` is not one. Allocates nothing. */
export function ipv4ToInt(s: string): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 3) return -1;
      octet = octet * 10 + (c - 48);
      digits++;
      if (octet > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}
