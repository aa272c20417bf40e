import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) and others that describe one connection, never forwarded either way; every
 * `Proxy-*` header is dropped too (see {@link isProxyHeader}). `Expect` is among them: the gateway answers
 * `Expect: 100-continue` itself (Node sends `100 Continue` to the client before the handler reads the body) and
 * streams the body to a backend already connected; undici refuses to send it anyway.
 */
const HOP_BY_HOP = new Set([
  'expect',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);

/**
 * Request headers that say who the client is and how it reached us. The gateway writes its own; a caller's are
 * dropped, except the `X-Forwarded-For` and `Forwarded` chains of a trusted proxy, which are extended. Every other
 * `X-Forwarded-*` header is dropped as well (see {@link isForwardedHeader}).
 */
const IDENTITY = new Set([
  'forwarded',
  'x-real-ip',
  // Other spellings of the client's address that frameworks and CDNs read.
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'x-cluster-client-ip',
  'client-ip',
  'fastly-client-ip',
  'x-envoy-external-address',
  'x-original-forwarded-for',
  'x-original-host',
  'x-host',
  // URL overrides some backends honour (IIS URL Rewrite, Symfony, Zend): they would undo the canonical path.
  'x-original-url',
  'x-rewrite-url',
]);

/** `Proxy-Authorization`, `Proxy-Connection`, `Proxy-Authenticate`…: meant for a proxy, never for the next hop. */
function isProxyHeader(name: string): boolean {
  return name.charCodeAt(0) === 112 /* p */ && name.startsWith('proxy-');
}

/**
 * `X-Forwarded-For`, `-Host`, `-Proto`, `-Port`, `-Prefix`, …, `X-Real-IP`, `Forwarded`, the other client-address and
 * URL-override spellings above, and any name with `_`: CGI, PHP and WSGI fold `X_Forwarded_For` into the same variable
 * as `X-Forwarded-For` (nginx drops such names by default too).
 */
function isForwardedHeader(name: string): boolean {
  return (
    IDENTITY.has(name) || (name.charCodeAt(0) === 120 /* x */ && name.startsWith('x-forwarded-')) || name.includes('_')
  );
}

/** `Connection` values that name no header beyond the hop-by-hop ones (what nearly every message carries). */
const PLAIN_CONNECTION = new Set(['keep-alive', 'Keep-Alive', 'close', 'Close']);

/** Header names a `Connection` header lists (lowercase), or undefined when it lists none to remove. */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined || (typeof value === 'string' && PLAIN_CONNECTION.has(value))) return undefined;
  const tokens = new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '') tokens.add(token);
  }
  return tokens;
}

/** A Host value safe to write inside a `Forwarded` quoted string (host, IPv4, `[IPv6]`, optional port). */
const FORWARDED_HOST = /^[A-Za-z0-9._~-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

/** What the gateway adds to a forwarded request. */
export interface ForwardedFor {
  /** The resolved client IP (`request.gateway.clientIp`): the socket peer, or what a trusted proxy said it is. */
  readonly clientIp: string;
  /** The socket peer's address (IPv4-mapped form normalised): the hop the gateway itself received the request from. */
  readonly peerIp: string;
  /** Whether the socket peer is a trusted proxy (ORCH_TRUSTED_PROXIES): only then are its chains kept and extended. */
  readonly peerTrusted: boolean;
  readonly proto: 'http' | 'https';
  readonly host: string | undefined;
  readonly correlationId: string;
  /** Headers meant for the gateway only (the admission header: it proves the caller to us, not to the backend). */
  readonly strip?: ReadonlySet<string>;
}

/** One `Forwarded` element (RFC 7239) for the hop from `peer` to the gateway. */
function forwardedElement(via: ForwardedFor): string {
  const node = via.peerIp.includes(':') ? `"[${via.peerIp}]"` : via.peerIp;
  const host = via.host !== undefined && FORWARDED_HOST.test(via.host) ? `;host="${via.host}"` : '';
  return `for=${node}${host};proto=${via.proto}`;
}

function joined(value: string | string[]): string {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Request headers for the backend. Removed: hop-by-hop headers and those the `Connection` header names, every
 * `Proxy-*` header, the gateway's own admission header, and the caller's `Forwarded`, `X-Real-IP` and `X-Forwarded-*`.
 * Written by the gateway: `X-Forwarded-For` and `Forwarded` (a trusted proxy's chain extended with the peer's
 * address, otherwise the peer's address alone), `X-Real-IP` (the resolved client IP), `X-Forwarded-Proto`,
 * `X-Forwarded-Host` and `X-Correlation-ID`.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  via: ForwardedFor,
): Record<string, string | string[]> {
  const named = connectionTokens(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (
      value === undefined ||
      HOP_BY_HOP.has(name) ||
      isProxyHeader(name) ||
      isForwardedHeader(name) ||
      named?.has(name) ||
      via.strip?.has(name)
    )
      continue;
    out[name] = value;
  }
  // A chain is only believed from a trusted proxy (as when the client IP was resolved); anyone else's is replaced.
  const priorFor = via.peerTrusted ? incoming['x-forwarded-for'] : undefined;
  out['x-forwarded-for'] = priorFor === undefined ? via.peerIp : `${joined(priorFor)}, ${via.peerIp}`;
  const priorForwarded = via.peerTrusted ? incoming.forwarded : undefined;
  const element = forwardedElement(via);
  out['forwarded'] = priorForwarded === undefined ? element : `${joined(priorForwarded)}, ${element}`;
  out['x-real-ip'] = via.clientIp;
  out['x-forwarded-proto'] = via.proto;
  if (via.host !== undefined) out['x-forwarded-host'] = via.host;
  out['x-correlation-id'] = via.correlationId;
  return out;
}

/** Response headers for the client: hop-by-hop ones, those the `Connection` header names and `Proxy-*` removed. */
export function downstreamResponseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionTokens(upstream.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || isProxyHeader(name) || named?.has(name)) continue;
    out[name] = value;
  }
  return out;
}
