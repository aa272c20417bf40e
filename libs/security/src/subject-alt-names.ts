/** The kinds of GeneralName (RFC 5280 §4.2.1.6) a subject alternative name can be. */
export type SubjectAltNameKind = 'dns' | 'uri' | 'email' | 'ip' | 'other';

/** One subject alternative name exactly as the certificate encodes it. */
export interface SubjectAltName {
  readonly kind: SubjectAltNameKind;
  /**
   * dNSName, URI and rfc822Name: the IA5String bytes one character per byte (latin1), unchecked, so a NUL or a
   * non-ASCII byte is still there to be refused; iPAddress: dotted or colon form; other kinds: the GeneralName tag.
   */
  readonly value: string;
}

/** DER of the subjectAltName extension's OID, 2.5.29.17 (without tag and length). */
const SAN_OID = [0x55, 0x1d, 0x11];
/** Context tags of the GeneralName choices read as text (primitive, IMPLICIT). */
const TEXT_KINDS: Readonly<Record<number, SubjectAltNameKind>> = { 0x81: 'email', 0x82: 'dns', 0x86: 'uri' };
const IP_TAG = 0x87;

/** A DER element: its tag and where its content lies in the buffer. */
interface Element {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
}

/**
 * Reads the subject alternative names of a DER certificate (`X509Certificate#raw`) from the structure itself, not
 * from Node's comma-joined `subjectAltName` text: each name keeps its kind (a DNS name holding `spiffe://…` or
 * `, URI:…` stays one DNS name) and its exact bytes. Throws when the certificate is not well-formed DER or has more
 * than one subjectAltName extension (RFC 5280 §4.2); an empty list when it has none.
 */
export function readSubjectAltNames(der: Uint8Array): SubjectAltName[] {
  const certificate = element(der, 0, der.length);
  if (certificate.tag !== 0x30 || certificate.end !== der.length) throw new Error('not a DER certificate');
  const tbs = children(der, certificate)[0];
  if (tbs?.tag !== 0x30) throw new Error('the certificate has no tbsCertificate');
  const wrapper = children(der, tbs).find((child) => child.tag === 0xa3);
  if (wrapper === undefined) return [];
  const list = children(der, wrapper);
  if (list.length !== 1 || list[0].tag !== 0x30) throw new Error('malformed extensions');
  let names: SubjectAltName[] | undefined;
  for (const extension of children(der, list[0])) {
    const parts = extension.tag === 0x30 ? children(der, extension) : [];
    const oid = parts[0];
    const value = parts[parts.length - 1];
    if (oid?.tag !== 0x06 || value?.tag !== 0x04 || parts.length > 3) throw new Error('malformed extension');
    if (!sameBytes(der, oid, SAN_OID)) continue;
    if (names !== undefined) throw new Error('the certificate has two subjectAltName extensions');
    names = generalNames(der, value);
  }
  return names ?? [];
}

function generalNames(der: Uint8Array, octets: Element): SubjectAltName[] {
  const sequence = element(der, octets.start, octets.end);
  if (sequence.tag !== 0x30 || sequence.end !== octets.end) throw new Error('malformed subjectAltName');
  return children(der, sequence).map((name): SubjectAltName => {
    const kind = TEXT_KINDS[name.tag];
    if (kind !== undefined) return { kind, value: Buffer.from(der.subarray(name.start, name.end)).toString('latin1') };
    if (name.tag === IP_TAG) return { kind: 'ip', value: ipText(der.subarray(name.start, name.end)) };
    return { kind: 'other', value: `tag 0x${name.tag.toString(16)}` };
  });
}

function ipText(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
    return groups.join(':');
  }
  return `<${bytes.length} bytes>`;
}

/** The element at `at`, which must end by `limit`. Only what certificates use: one-byte tags, definite lengths. */
function element(der: Uint8Array, at: number, limit: number): Element {
  if (at + 2 > limit) throw new Error('truncated DER');
  const tag = der[at];
  if ((tag & 0x1f) === 0x1f) throw new Error('unexpected high-number DER tag');
  let length = der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > limit) throw new Error('malformed DER length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i];
    start += bytes;
  }
  const end = start + length;
  if (end > limit) throw new Error('truncated DER');
  return { tag, start, end };
}

function children(der: Uint8Array, parent: Element): Element[] {
  const found: Element[] = [];
  for (let at = parent.start; at < parent.end;) {
    const child = element(der, at, parent.end);
    found.push(child);
    at = child.end;
  }
  return found;
}

function sameBytes(der: Uint8Array, at: Element, expected: readonly number[]): boolean {
  if (at.end - at.start !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (der[at.start + i] !== expected[i]) return false;
  return true;
}
