import { isIP } from 'node:net';
import { readSubjectAltNames, type SubjectAltName } from './subject-alt-names';

/**
 * A client's identity as its verified certificate states it: URI SANs (SPIFFE IDs) and DNS SANs, never the CN, each
 * kind in its own list. Only well-formed names are kept, normalised: DNS names lower-cased; URIs with scheme and
 * authority lower-cased and the rest (a SPIFFE path) exactly as written.
 */
export interface ClientIdentity {
  /** URI subject alternative names. */
  readonly uris: readonly string[];
  /** DNS subject alternative names. */
  readonly dns: readonly string[];
}

/** The identity of a caller without a verified certificate. */
export const EMPTY_IDENTITY: ClientIdentity = Object.freeze({ uris: Object.freeze([]), dns: Object.freeze([]) });

/** What a certificate presents: the identity made of its usable SANs, and every SAN for events and logs. */
export interface CertificateIdentity {
  readonly identity: ClientIdentity;
  /**
   * Every SAN as `DNS:…`, `URI:…`, `IP:…`, `email:…` or `other:…`, bytes outside printable ASCII written `\xNN`; a
   * DNS or URI SAN that is not well-formed is marked ` (ignored: …)`. At most {@link PRESENTED_MAX} entries.
   */
  readonly presented: readonly string[];
}

/** Most SANs listed in {@link CertificateIdentity.presented}; the rest are counted in a last entry. */
export const PRESENTED_MAX = 32;
/** Longest SAN text shown in {@link CertificateIdentity.presented}. */
const PRESENTED_LENGTH = 256;

/** RFC 3986 characters (unreserved, reserved, `%`): what a URI SAN may hold. */
const URI = /^([A-Za-z][A-Za-z0-9+.-]*):([A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*)$/;
/** A URI allowlist entry: anything that starts with a scheme. A DNS name has no `:`. */
const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
/** A host name in preferred syntax (RFC 1035 §2.3.1, plus `_`), lower case, no trailing dot, at most 253 characters. */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * A DNS SAN or entry as compared: lower-cased (DNS is case-insensitive), or undefined when it is not a host name in
 * preferred syntax (a NUL, a space, non-ASCII, `*`, `:` or `/`, an empty label, a trailing dot…).
 */
export function normalizeDnsName(name: string): string | undefined {
  if (!VISIBLE_ASCII.test(name)) return undefined;
  const lower = name.toLowerCase();
  return DNS_NAME.test(lower) ? lower : undefined;
}

/**
 * A URI SAN or entry as compared: scheme and authority lower-cased (RFC 3986 §6.2.2.1), path, query and fragment
 * kept exactly (SPIFFE paths are case-sensitive); undefined when it is not a URI of RFC 3986 characters or its
 * authority is empty or holds userinfo.
 */
export function normalizeUri(uri: string): string | undefined {
  const match = URI.exec(uri);
  if (match === null) return undefined;
  const scheme = match[1].toLowerCase();
  const rest = match[2];
  if (!rest.startsWith('//')) return `${scheme}:${rest}`;
  let end = 2;
  while (end < rest.length && rest[end] !== '/' && rest[end] !== '?' && rest[end] !== '#') end++;
  const authority = rest.slice(2, end);
  if (authority === '' || authority.includes('@')) return undefined;
  return `${scheme}://${authority.toLowerCase()}${rest.slice(end)}`;
}

/**
 * The identity of a DER certificate (`X509Certificate#raw`), read from its subjectAltName extension itself (see
 * {@link readSubjectAltNames}): URI SANs go only to `uris`, DNS SANs only to `dns`, normalised; IP, email and other
 * SANs are never an identity. Throws when the certificate cannot be read.
 */
export function certificateIdentity(der: Uint8Array): CertificateIdentity {
  const names = readSubjectAltNames(der);
  if (names.length === 0) return { identity: EMPTY_IDENTITY, presented: [] };
  const uris: string[] = [];
  const dns: string[] = [];
  const presented: string[] = [];
  for (const name of names) {
    let note = '';
    if (name.kind === 'dns') {
      const normal = normalizeDnsName(name.value);
      if (normal === undefined) note = ' (ignored: not a DNS name)';
      else if (!dns.includes(normal)) dns.push(normal);
    } else if (name.kind === 'uri') {
      const normal = normalizeUri(name.value);
      if (normal === undefined) note = ' (ignored: not a URI)';
      else if (!uris.includes(normal)) uris.push(normal);
    }
    if (presented.length < PRESENTED_MAX) presented.push(describe(name) + note);
  }
  if (names.length > PRESENTED_MAX) presented.push(`… ${names.length - PRESENTED_MAX} more`);
  return { identity: { uris, dns }, presented };
}

const LABELS: Readonly<Record<SubjectAltName['kind'], string>> = {
  dns: 'DNS',
  uri: 'URI',
  email: 'email',
  ip: 'IP',
  other: 'other',
};

/** `KIND:value` with bytes outside printable ASCII (and `\`) escaped, cut to a readable length. */
function describe(name: SubjectAltName): string {
  let text = '';
  for (let i = 0; i < name.value.length && text.length < PRESENTED_LENGTH; i++) {
    const code = name.value.charCodeAt(i);
    if (code === 0x5c) text += '\\\\';
    else if (code >= 0x20 && code < 0x7f) text += name.value[i];
    else text += `\\x${code.toString(16).padStart(2, '0')}`;
  }
  if (text.length >= PRESENTED_LENGTH) text = `${text.slice(0, PRESENTED_LENGTH)}…`;
  return `${LABELS[name.kind]}:${text}`;
}

/** Why an identity was admitted or refused (for events and logs). */
export type SanVerdict =
  | { readonly admitted: true; readonly matched: string | null }
  | { readonly admitted: false; readonly presented: readonly string[] };

/**
 * An allowlist of client identities (ORCH_ALLOWED_CLIENT_SAN_PREFIXES, ORCH_ADMIN_SANS). Each entry is of one kind,
 * and only SANs of that kind are compared with it:
 * - a **URI** entry (it starts with a scheme, e.g. `spiffe://`) matches only URI SANs: exactly, or, when it ends in
 *   `/`, anything under it at a path-segment boundary whose rest is clean segments (no empty, `.`/`..` or
 *   percent-encoded segment, no query or fragment), so `…/sa/ingress` does not admit `…/sa/ingress-evil` and
 *   `…/ns/default/` does not admit `…/ns/default/../admin`. Scheme and authority compare case-insensitively, the
 *   path exactly;
 * - a **DNS** entry (no scheme) matches only DNS SANs, exactly and case-insensitively, never by prefix.
 * A DNS SAN holding `spiffe://…` is therefore never a SPIFFE identity. The CN is never consulted. An empty list
 * admits any certificate the CA verified. Entries that are neither a URI nor a host name are refused at boot.
 */
export class SanAllowlist {
  private readonly uris = new Set<string>();
  private readonly uriPrefixes: string[] = [];
  private readonly dns = new Set<string>();

  /** @param entries URIs, URI prefixes ending in `/`, or DNS names; anything else throws, naming the entry. */
  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim();
      if (entry === '' || !VISIBLE_ASCII.test(entry)) {
        throw new Error(`'${raw}' is not a SAN or SAN prefix (no spaces, control or non-ASCII characters)`);
      }
      if (entry.includes('*')) {
        throw new Error(`'${raw}': wildcards are not supported; end a URI entry with / to admit everything under it`);
      }
      if (HAS_SCHEME.test(entry)) this.addUri(raw, entry);
      else this.addDns(raw, entry);
    }
  }

  /** True when no entry is configured (every CA-verified certificate passes). */
  get empty(): boolean {
    return this.uris.size === 0 && this.uriPrefixes.length === 0 && this.dns.size === 0;
  }

  /**
   * Checks an identity; its names are normalised again (as {@link certificateIdentity} does), so one built elsewhere
   * is compared the same way, and a name that is not well-formed for its kind never matches. A refusal lists the
   * SANs that were compared.
   */
  check(identity: ClientIdentity): SanVerdict {
    if (this.empty) return { admitted: true, matched: null };
    for (const uri of identity.uris) {
      const normal = normalizeUri(uri);
      const matched = normal === undefined ? null : this.matchUri(normal);
      if (matched !== null) return { admitted: true, matched };
    }
    for (const name of identity.dns) {
      const normal = normalizeDnsName(name);
      if (normal !== undefined && this.dns.has(normal)) return { admitted: true, matched: normal };
    }
    return {
      admitted: false,
      presented: [...identity.uris.map((u) => `URI:${u}`), ...identity.dns.map((d) => `DNS:${d}`)],
    };
  }

  private addUri(raw: string, entry: string): void {
    const uri = normalizeUri(entry);
    if (uri === undefined || uri.includes('?') || uri.includes('#')) {
      throw new Error(
        `'${raw}' is not a URI SAN (scheme://authority/path of URI characters, no userinfo, query or fragment)`,
      );
    }
    if (uri.endsWith('/')) this.uriPrefixes.push(uri);
    else this.uris.add(uri);
  }

  private addDns(raw: string, entry: string): void {
    if (entry.includes('/')) {
      throw new Error(
        `'${raw}' has no scheme, so it is a DNS name, which matches exactly: only a URI entry (spiffe://…) may end with / to admit what is under it`,
      );
    }
    if (isIP(entry) !== 0) throw new Error(`'${raw}': IP addresses are not client identities; list URIs or DNS names`);
    if (entry.endsWith('.')) throw new Error(`'${raw}': write the DNS name without the trailing dot`);
    const name = normalizeDnsName(entry);
    if (name === undefined) throw new Error(`'${raw}' is neither a URI (scheme:…) nor a DNS name`);
    this.dns.add(name);
  }

  private matchUri(san: string): string | null {
    if (this.uris.has(san)) return san;
    for (const prefix of this.uriPrefixes) {
      if (san.length > prefix.length && san.startsWith(prefix) && cleanSegments(san.slice(prefix.length)))
        return prefix;
    }
    return null;
  }
}

/** A path segment under a prefix: RFC 3986 pchar without `%` (SPIFFE IDs have no percent-encoding). */
const SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@-]+$/;
const DOT_SEGMENT = /^\.{1,2}$/;

/** True when every `/`-separated segment is a non-empty, unencoded URI path segment that is not `.`/`..`. */
function cleanSegments(rest: string): boolean {
  for (const segment of rest.split('/')) {
    if (!SEGMENT.test(segment) || DOT_SEGMENT.test(segment)) return false;
  }
  return true;
}
