import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) and others that describe one connection, never forwarded. `Expect` is among
 * them: the gateway answers `Expect: 100-continue` itself (Node sends `100 Continue` to the client before the handler
 * reads the body) and streams the body to a backend already connected; undici refuses to send it anyway.
 */
const HOP_BY_HOP = new Set([
  'expect',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);

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

/** What the gateway adds to a forwarded request. */
export interface ForwardedFor {
  readonly clientIp: string;
  readonly proto: 'http' | 'https';
  readonly host: string | undefined;
  readonly correlationId: string;
  /** Headers meant for the gateway only (the admission header: it proves the caller to us, not to the backend). */
  readonly strip?: ReadonlySet<string>;
}

/**
 * Request headers for the backend: hop-by-hop ones (and those the `Connection` header names) removed, the gateway's
 * own admission header removed, `X-Forwarded-For` extended with the client IP, `X-Forwarded-Proto/Host` and
 * `X-Correlation-ID` set.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  via: ForwardedFor,
): Record<string, string | string[]> {
  const named = connectionTokens(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name) || via.strip?.has(name)) continue;
    out[name] = value;
  }
  const prior = incoming['x-forwarded-for'];
  out['x-forwarded-for'] =
    prior === undefined ? via.clientIp : `${Array.isArray(prior) ? prior.join(', ') : prior}, ${via.clientIp}`;
  out['x-forwarded-proto'] = via.proto;
  if (via.host !== undefined) out['x-forwarded-host'] = via.host;
  out['x-correlation-id'] = via.correlationId;
  return out;
}

/** Response headers for the client: hop-by-hop ones removed. */
export function downstreamResponseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionTokens(upstream.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name)) continue;
    out[name] = value;
  }
  return out;
}
