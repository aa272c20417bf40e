import { createHash } from 'node:crypto';

const PERCENT = /%([0-9A-Fa-f]{2})/g;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const DPOP_SCHEME = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** `ath` of an access token: base64url(SHA-256(ASCII token)) (RFC 9449 §4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

/**
 * The access token of an `Authorization: DPoP <token>` header (scheme case-insensitive, token68 syntax), or
 * undefined when the header is absent or uses another scheme.
 */
export function dpopAccessToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.length < 6) return undefined;
  const match = DPOP_SCHEME.exec(authorization);
  return match === null ? undefined : match[1];
}

/** Whether an Authorization header uses the DPoP scheme at all (well-formed or not). */
export function isDpopAuthorization(authorization: string | undefined): boolean {
  return authorization !== undefined && authorization.length >= 4 && /^dpop(\s|$)/i.test(authorization);
}

/**
 * Normalises an http(s) URL for comparing `htu` (RFC 9449 §4.3 point 9, RFC 3986 §6.2.2 and §6.2.3): scheme and
 * host lower-cased, default port removed, empty path as `/`, dot segments resolved, percent-encodings of unreserved
 * characters decoded and the others upper-cased; query and fragment dropped. Undefined when not an http(s) URL.
 */
export function normalizeHtu(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
  if (parsed.username !== '' || parsed.password !== '') return undefined;
  const path = parsed.pathname.replace(PERCENT, (_escape: string, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
  return `${parsed.protocol}//${parsed.host}${path}`;
}
