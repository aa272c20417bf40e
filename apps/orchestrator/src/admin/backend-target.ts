import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { ipv4Host, ipv4Of, ipv6Groups } from '@shieldx/security';

/**
 * What an address or host name is, for deciding whether the admin API may point a pool at it:
 * - `metadata`: cloud instance-metadata endpoints (credentials live there: the classic SSRF prize);
 * - `link-local`: 169.254.0.0/16, fe80::/10 (metadata services and other host-only endpoints live there);
 * - `unspecified`: 0.0.0.0/8, `::` (connects to the gateway host itself on most systems);
 * - `multicast`: 224.0.0.0/4, ff00::/8; `reserved`: 240.0.0.0/4 including the broadcast address;
 * - `loopback`: 127.0.0.0/8, `::1`, `localhost` and `*.localhost` (services bound to the gateway host only);
 * - `private`: RFC 1918, 100.64.0.0/10 (CGNAT), fc00::/7 (ULA): where backends normally live;
 * - `public`: everything else.
 */
export type TargetClass =
  'metadata' | 'link-local' | 'unspecified' | 'multicast' | 'reserved' | 'loopback' | 'private' | 'public';

/** Which classes the admin API may use: see {@link checkBackendTarget}. */
export interface TargetRules {
  /** ORCH_ADMIN_ALLOW_PRIVATE=1: every class is allowed and names are not resolved. */
  readonly allowPrivate: boolean;
  /** Loopback targets allowed (insecure dev mode, where the demo backends live on loopback). */
  readonly allowLoopback: boolean;
}

/** Resolves a host name to every address it has (injected so tests never leave the machine). */
export type ResolveHost = (hostname: string) => Promise<readonly string[]>;

/** A backend URL the admin API refuses, with the reason. */
export class TargetRefusedError extends Error {
  constructor(
    readonly url: string,
    readonly targetClass: TargetClass | 'unresolvable',
    message: string,
  ) {
    super(message);
    this.name = 'TargetRefusedError';
  }
}

/** Host names that reach instance metadata without DNS (GCP, AWS); compared lowercased, without a trailing dot. */
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

function blockList(v4: readonly [string, number][], v6: readonly [string, number][]): BlockList {
  const list = new BlockList();
  for (const [net, bits] of v4) list.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of v6) list.addSubnet(net, bits, 'ipv6');
  return list;
}

/** Checked in this order; instance metadata first (AWS/GCP/Azure/OpenStack IPv4, AWS and GCP IPv6, Alibaba Cloud). */
const CLASSES: readonly [TargetClass, BlockList][] = [
  [
    'metadata',
    blockList(
      [
        ['169.254.169.254', 32],
        ['100.100.100.200', 32],
      ],
      [
        ['fd00:ec2::254', 128],
        ['fd20:ce::254', 128],
      ],
    ),
  ],
  ['unspecified', blockList([['0.0.0.0', 8]], [['::', 128]])],
  ['link-local', blockList([['169.254.0.0', 16]], [['fe80::', 10]])],
  ['multicast', blockList([['224.0.0.0', 4]], [['ff00::', 8]])],
  ['reserved', blockList([['240.0.0.0', 4]], [])],
  ['loopback', blockList([['127.0.0.0', 8]], [['::1', 128]])],
  [
    'private',
    blockList(
      [
        ['10.0.0.0', 8],
        ['172.16.0.0', 12],
        ['192.168.0.0', 16],
        ['100.64.0.0', 10],
      ],
      [['fc00::', 7]],
    ),
  ],
];

/**
 * The IPv4 address inside an IPv6 address that carries one, which a stack, a translator or a tunnel may turn into a
 * packet to that IPv4 host; undefined for any other address. Each form is judged as its IPv4 address, so no spelling
 * of 127.0.0.1 or 169.254.169.254 passes where the dotted one does not: those that stand for an IPv4 host (mapped,
 * translated, compatible, NAT64: {@link ipv4Host}, the forms a client address is folded by), and the tunnels:
 * - 6to4 `2002:WWXX:YYZZ::/48` (RFC 3056), the address in the second and third groups;
 * - Teredo `2001:0::/32` (RFC 4380), the client's address in the last two groups, inverted.
 */
function embeddedIpv4(ip: string): string | undefined {
  const groups = ipv6Groups(ip);
  if (groups === undefined) return undefined;
  const host = ipv4Host(groups);
  if (host !== undefined) return host;
  if (groups[0] === 0x2002) return ipv4Of(groups[1], groups[2]);
  if (groups[0] === 0x2001 && groups[1] === 0) return ipv4Of(groups[6] ^ 0xffff, groups[7] ^ 0xffff);
  return undefined;
}

/** Classifies an IP address (IPv4, or IPv6 without brackets). */
export function classifyAddress(ip: string): TargetClass {
  const family = isIP(ip);
  if (family === 0) throw new Error(`'${ip}' is not an IP address`);
  const lower = ip.toLowerCase();
  if (family === 6) {
    const v4 = embeddedIpv4(lower);
    if (v4 !== undefined) return classifyAddress(v4);
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [name, list] of CLASSES) if (list.check(lower, type)) return name;
  return 'public';
}

/**
 * Classifies a URL host as `new URL()` gives it (IPv6 in brackets, IPv4 already normalised from decimal, octal or hex
 * forms). Returns undefined for an ordinary host name, whose class depends on what it resolves to.
 */
export function classifyHostname(hostname: string): TargetClass | undefined {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) !== 0) return classifyAddress(bare);
  if (METADATA_NAMES.has(host)) return 'metadata';
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
  return undefined;
}

const DESCRIBE: Record<TargetClass, string> = {
  metadata: 'a cloud instance-metadata endpoint',
  'link-local': 'a link-local address',
  unspecified: 'an unspecified address (0.0.0.0/8 or ::)',
  multicast: 'a multicast address',
  reserved: 'a reserved or broadcast address',
  loopback: 'a loopback address (allowed only in insecure dev mode)',
  private: 'a private address',
  public: 'a public address',
};

function allowed(cls: TargetClass, rules: TargetRules): boolean {
  switch (cls) {
    case 'private':
    case 'public':
      return true;
    case 'loopback':
      return rules.allowLoopback;
    case 'metadata':
    case 'link-local':
    case 'unspecified':
    case 'multicast':
    case 'reserved':
      return false;
    default: {
      const never: never = cls;
      throw new Error(`unknown target class ${String(never)}`);
    }
  }
}

/** Longest wait for the system resolver, ms. */
const RESOLVE_TIMEOUT_MS = 2000;

/** Resolves with the system resolver (what the proxy's connections use), bounded in time. */
export const systemResolve: ResolveHost = async (hostname) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error('resolver timed out'), { code: 'ETIMEOUT' })),
      RESOLVE_TIMEOUT_MS,
    );
  });
  try {
    const answers = await Promise.race([lookup(hostname, { all: true, verbatim: true }), timeout]);
    return answers.map((a) => a.address);
  } finally {
    clearTimeout(timer);
  }
};

/**
 * Checks that a normalised backend URL (from `parseBackendUrl`) may be put in a pool through the admin API.
 * Unless ORCH_ADMIN_ALLOW_PRIVATE is set, refuses instance-metadata hosts and addresses, link-local, unspecified,
 * multicast and reserved addresses, and loopback unless `allowLoopback` (insecure dev mode). Private (RFC 1918, ULA,
 * CGNAT) and public addresses pass: backends live there. A host name is resolved, and refused when any of its
 * addresses is refused, or when it does not resolve. This is a check at the time of the edit: a name whose records
 * change later (DNS rebinding) is not caught here; use IP literals for strictness.
 *
 * @throws TargetRefusedError naming the URL and the reason
 */
export async function checkBackendTarget(
  url: string,
  rules: TargetRules,
  resolve: ResolveHost = systemResolve,
): Promise<void> {
  if (rules.allowPrivate) return;
  const { hostname } = new URL(url);
  const refuse = (cls: TargetClass, via?: string): never => {
    throw new TargetRefusedError(
      url,
      cls,
      `'${url}' is ${DESCRIBE[cls]}${via === undefined ? '' : ` (${hostname} resolves to ${via})`}; ` +
        'set ORCH_ADMIN_ALLOW_PRIVATE=1 to allow it',
    );
  };
  const direct = classifyHostname(hostname);
  if (direct !== undefined) {
    if (!allowed(direct, rules)) refuse(direct);
    return;
  }
  let addresses: readonly string[];
  try {
    addresses = await resolve(hostname);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new TargetRefusedError(
      url,
      'unresolvable',
      `'${url}': ${hostname} does not resolve (${typeof code === 'string' ? code : (error as Error).message})`,
    );
  }
  if (addresses.length === 0) throw new TargetRefusedError(url, 'unresolvable', `'${url}': ${hostname} has no address`);
  for (const address of addresses) {
    const cls = classifyAddress(address);
    if (!allowed(cls, rules)) refuse(cls, address);
  }
}
