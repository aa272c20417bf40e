/** A client's identity as its verified certificate states it: URI SANs (SPIFFE IDs) and DNS SANs. Never the CN. */
export interface ClientIdentity {
  /** URI subject alternative names, as written in the certificate. */
  readonly uris: readonly string[];
  /** DNS subject alternative names, as written in the certificate. */
  readonly dns: readonly string[];
}

/** The identity of a caller without a verified certificate. */
export const EMPTY_IDENTITY: ClientIdentity = Object.freeze({ uris: Object.freeze([]), dns: Object.freeze([]) });

/**
 * Parses the subject alternative names as Node prints them (`X509Certificate#subjectAltName`,
 * `getPeerCertificate().subjectaltname`): `TYPE:value` entries joined by `", "`. Node quotes a value that holds a
 * comma, quote, backslash, apostrophe or control/non-ASCII character as a JSON string (`URI:"spiffe://x/a\u002cb"`),
 * so a naive split on commas would let a crafted SAN pose as two. Only URI and DNS entries are kept; IP, email,
 * DirName and othername entries are ignored. Throws on text that does not follow this grammar.
 */
export function parseSubjectAltName(text: string | undefined): ClientIdentity {
  if (text === undefined || text === '') return EMPTY_IDENTITY;
  const uris: string[] = [];
  const dns: string[] = [];
  let at = 0;
  while (at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon === -1) throw new Error(`malformed subjectAltName at offset ${at}`);
    const type = text.slice(at, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      end = closingQuote(text, colon + 2);
      value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      end += 1;
    } else {
      end = text.indexOf(', ', colon + 1);
      if (end === -1) end = text.length;
      value = text.slice(colon + 1, end);
    }
    if (type === 'URI') uris.push(value);
    else if (type === 'DNS') dns.push(value);
    if (end === text.length) break;
    if (!text.startsWith(', ', end)) throw new Error(`malformed subjectAltName at offset ${end}`);
    at = end + 2;
  }
  return { uris, dns };
}

function closingQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '"') return i;
  }
  throw new Error('malformed subjectAltName: unterminated quoted value');
}

/** Why an identity was admitted or refused (for events and logs). */
export type SanVerdict =
  | { readonly admitted: true; readonly matched: string | null }
  | { readonly admitted: false; readonly presented: readonly string[] };

/**
 * The client SAN allowlist (ORCH_ALLOWED_CLIENT_SAN_PREFIXES). A certificate passes when one of its URI or DNS SANs
 * equals an entry, or starts with an entry that ends in `/`: prefixes match only at a path-segment boundary, so
 * `spiffe://shieldx.local/ns/default/sa/ingress` does not admit `…/sa/ingress-evil`, while
 * `spiffe://shieldx.local/ns/default/` admits every service account of that namespace. Under a prefix, the rest must
 * be well-formed path segments (no empty, `.` or `..` segment, no query or fragment), so `…/ns/default/../admin` is
 * not under `…/ns/default/`. URIs compare exactly; DNS names (which have no `/`) only exactly, case-insensitively.
 * The CN is never consulted. An empty list admits any certificate the CA verified.
 */
export class SanAllowlist {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];

  /** @param entries exact SANs, or prefixes ending in `/`; empty entries, spaces and wildcards are rejected. */
  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim();
      if (entry === '' || /[\s\x00-\x1f\x7f]/.test(entry)) {
        throw new Error(`'${raw}' is not a SAN or SAN prefix (no spaces or control characters)`);
      }
      if (entry.includes('*')) {
        throw new Error(`'${raw}': wildcards are not supported; end an entry with / to admit everything under it`);
      }
      if (entry.endsWith('/')) this.prefixes.push(entry);
      else this.exact.add(entry);
    }
  }

  /** True when no entry is configured (every CA-verified certificate passes). */
  get empty(): boolean {
    return this.exact.size === 0 && this.prefixes.length === 0;
  }

  /** Checks an identity; on refusal the verdict lists the presented SANs for the security event. */
  check(identity: ClientIdentity): SanVerdict {
    if (this.empty) return { admitted: true, matched: null };
    for (const uri of identity.uris) {
      const matched = this.matchUri(uri);
      if (matched !== null) return { admitted: true, matched };
    }
    for (const name of identity.dns) {
      const matched = this.matchDns(name);
      if (matched !== null) return { admitted: true, matched };
    }
    return {
      admitted: false,
      presented: [...identity.uris.map((u) => `URI:${u}`), ...identity.dns.map((d) => `DNS:${d}`)],
    };
  }

  private matchUri(san: string): string | null {
    if (this.exact.has(san)) return san;
    for (const prefix of this.prefixes) {
      if (san.length > prefix.length && san.startsWith(prefix) && cleanSegments(san.slice(prefix.length)))
        return prefix;
    }
    return null;
  }

  private matchDns(san: string): string | null {
    const name = san.toLowerCase();
    for (const entry of this.exact) if (entry.toLowerCase() === name) return entry;
    return null;
  }
}

const SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$/;
const DOT_SEGMENT = /^(\.|%2e){1,2}$/i;

/** True when every `/`-separated segment is a non-empty URI path segment that is not `.`/`..` (raw or encoded). */
function cleanSegments(rest: string): boolean {
  for (const segment of rest.split('/')) {
    if (!SEGMENT.test(segment) || DOT_SEGMENT.test(segment)) return false;
  }
  return true;
}
