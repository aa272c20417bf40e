import { describe, expect, it } from 'vitest';
import {
  certificateIdentity,
  EMPTY_IDENTITY,
  normalizeDnsName,
  normalizeUri,
  SanAllowlist,
  type ClientIdentity,
} from './san';
import { readSubjectAltNames } from './subject-alt-names';

const INGRESS = 'spiffe://shieldx.local/ns/default/sa/ingress';
const ADMIN = 'spiffe://shieldx.local/ns/ops/sa/admin';

/** One DER element: tag, definite length (short or long form), content. */
function der(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content);
  const length =
    body.length < 0x80
      ? [body.length]
      : body.length < 0x100
        ? [0x81, body.length]
        : [0x82, body.length >> 8, body.length & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

type Name = readonly [kind: 'dns' | 'uri' | 'email' | 'ip' | 'dirname', value: string | Uint8Array];
const TAGS = { email: 0x81, dns: 0x82, uri: 0x86, ip: 0x87, dirname: 0xa4 } as const;

/** The subjectAltName extension for these names (values as raw bytes when given as a latin1 string). */
function sanExtension(names: readonly Name[]): Uint8Array {
  const generalNames = der(
    0x30,
    ...names.map(([kind, value]) => der(TAGS[kind], typeof value === 'string' ? Buffer.from(value, 'latin1') : value)),
  );
  return der(0x30, der(0x06, Buffer.from([0x55, 0x1d, 0x11])), der(0x04, generalNames));
}

/** A certificate-shaped DER structure (only what the reader walks) with these extensions. */
function certificate(...extensions: Uint8Array[]): Uint8Array {
  const version = der(0xa0, der(0x02, Buffer.from([2])));
  const serial = der(0x02, Buffer.from([1]));
  const algorithm = der(0x30, der(0x06, Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])));
  const name = der(0x30);
  const validity = der(0x30);
  const key = der(0x30);
  const extensionList = extensions.length === 0 ? [] : [der(0xa3, der(0x30, ...extensions))];
  const tbs = der(0x30, version, serial, algorithm, name, validity, name, key, ...extensionList);
  return der(0x30, tbs, algorithm, der(0x03, Buffer.from([0, 1, 2, 3])));
}

const withNames = (...names: Name[]) => certificate(sanExtension(names));
const basicConstraints = der(0x30, der(0x06, Buffer.from([0x55, 0x1d, 0x13])), der(0x04, der(0x30)));

describe(readSubjectAltNames.name, () => {
  it('reads every name with its kind and exact bytes, next to other extensions', () => {
    const cert = certificate(
      basicConstraints,
      sanExtension([
        ['dns', 'web.internal'],
        ['uri', INGRESS],
        ['ip', Buffer.from([127, 0, 0, 1])],
        ['ip', Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])],
        ['email', 'a@b.c'],
        ['dirname', der(0x30)],
      ]),
    );
    expect(readSubjectAltNames(cert)).toEqual([
      { kind: 'dns', value: 'web.internal' },
      { kind: 'uri', value: INGRESS },
      { kind: 'ip', value: '127.0.0.1' },
      { kind: 'ip', value: '0:0:0:0:0:0:0:1' },
      { kind: 'email', value: 'a@b.c' },
      { kind: 'other', value: 'tag 0xa4' },
    ]);
  });

  it('keeps a DNS name holding ", URI:…" one DNS name, and keeps NUL and non-ASCII bytes', () => {
    expect(readSubjectAltNames(withNames(['dns', `evil.internal, URI:${ADMIN}`]))).toEqual([
      { kind: 'dns', value: `evil.internal, URI:${ADMIN}` },
    ]);
    expect(readSubjectAltNames(withNames(['dns', 'admin.internal\u0000.evil'], ['dns', 'caf\u00e9']))).toEqual([
      { kind: 'dns', value: 'admin.internal\u0000.evil' },
      { kind: 'dns', value: 'caf\u00e9' },
    ]);
  });

  it('reads long-form lengths (many names)', () => {
    const names: Name[] = Array.from({ length: 40 }, (_, i) => ['dns', `host-${i}.internal`] as const);
    expect(readSubjectAltNames(withNames(...names))).toHaveLength(40);
  });

  it('returns no names without extensions or without a SAN extension', () => {
    expect(readSubjectAltNames(certificate())).toEqual([]);
    expect(readSubjectAltNames(certificate(basicConstraints))).toEqual([]);
  });

  it('refuses two SAN extensions, truncated DER, trailing bytes and indefinite lengths', () => {
    const two = certificate(sanExtension([['uri', INGRESS]]), sanExtension([['uri', ADMIN]]));
    expect(() => readSubjectAltNames(two)).toThrow(/two subjectAltName/);
    const cert = withNames(['uri', INGRESS]);
    expect(() => readSubjectAltNames(cert.subarray(0, cert.length - 1))).toThrow(/truncated/);
    expect(() => readSubjectAltNames(Buffer.concat([cert, Buffer.from([0])]))).toThrow(/not a DER certificate/);
    expect(() => readSubjectAltNames(Buffer.from([0x30, 0x80, 0, 0]))).toThrow(/length/);
    expect(() => readSubjectAltNames(Buffer.from('not a certificate'))).toThrow();
  });
});

describe(certificateIdentity.name, () => {
  it('puts URI SANs only in uris and DNS SANs only in dns, normalised; IP and email are no identity', () => {
    const read = certificateIdentity(
      withNames(
        ['uri', 'SPIFFE://ShieldX.Local/ns/default/sa/Ingress'],
        ['dns', 'Web.Internal'],
        ['ip', Buffer.from([10, 0, 0, 1])],
        ['email', 'ops@shieldx.local'],
      ),
    );
    expect(read.identity).toEqual({ uris: ['spiffe://shieldx.local/ns/default/sa/Ingress'], dns: ['web.internal'] });
    expect(read.presented).toEqual([
      'URI:SPIFFE://ShieldX.Local/ns/default/sa/Ingress',
      'DNS:Web.Internal',
      'IP:10.0.0.1',
      'email:ops@shieldx.local',
    ]);
  });

  it('never takes a DNS SAN holding a SPIFFE ID, or ", URI:…", for a URI', () => {
    for (const value of [ADMIN, `x.internal, URI:${ADMIN}`, `URI:${ADMIN}`]) {
      const read = certificateIdentity(withNames(['dns', value]));
      expect(read.identity, value).toEqual({ uris: [], dns: [] });
      expect(read.presented[0], value).toMatch(/^DNS:.*\(ignored: not a DNS name\)$/);
    }
  });

  it('ignores names with NUL, control, space or non-ASCII bytes, a trailing dot, a wildcard, or userinfo', () => {
    const read = certificateIdentity(
      withNames(
        ['dns', 'admin.internal\u0000.evil.com'],
        ['dns', 'admin.internal.'],
        ['dns', '*.internal'],
        ['dns', 'caf\u00e9.internal'],
        ['uri', `${ADMIN}\u0000`],
        ['uri', 'spiffe://shieldx.local/ns/ops/sa/ad min'],
        ['uri', 'spiffe://user@shieldx.local/ns/ops/sa/admin'],
        ['uri', 'no-scheme/ns/ops'],
      ),
    );
    expect(read.identity).toEqual(EMPTY_IDENTITY);
    expect(read.presented).toEqual([
      'DNS:admin.internal\\x00.evil.com (ignored: not a DNS name)',
      'DNS:admin.internal. (ignored: not a DNS name)',
      'DNS:*.internal (ignored: not a DNS name)',
      'DNS:caf\\xe9.internal (ignored: not a DNS name)',
      `URI:${ADMIN}\\x00 (ignored: not a URI)`,
      'URI:spiffe://shieldx.local/ns/ops/sa/ad min (ignored: not a URI)',
      'URI:spiffe://user@shieldx.local/ns/ops/sa/admin (ignored: not a URI)',
      'URI:no-scheme/ns/ops (ignored: not a URI)',
    ]);
  });

  it('lists at most 32 presented SANs and counts the rest; keeps one copy of a repeated name', () => {
    const names: Name[] = Array.from({ length: 40 }, () => ['dns', 'same.internal'] as const);
    const read = certificateIdentity(withNames(...names));
    expect(read.identity.dns).toEqual(['same.internal']);
    expect(read.presented).toHaveLength(33);
    expect(read.presented.at(-1)).toBe('… 8 more');
  });
});

describe(normalizeUri.name, () => {
  it.each([
    ['SPIFFE://Trust.Domain/Path/Case', 'spiffe://trust.domain/Path/Case'],
    ['urn:Example:Thing', 'urn:Example:Thing'],
    ['https://Host:8443/a?b#c', 'https://host:8443/a?b#c'],
  ])('%s → %s', (input, expected) => expect(normalizeUri(input)).toBe(expected));

  it.each(['', 'spiffe://', 'spiffe:///path', 'spiffe://u@host/x', 'spiffe://host/a b', 'spiffe://host/"x"', '1x:y'])(
    'refuses %j',
    (input) => expect(normalizeUri(input)).toBeUndefined(),
  );
});

describe(normalizeDnsName.name, () => {
  it('lower-cases host names and refuses anything else', () => {
    expect(normalizeDnsName('Web.Internal')).toBe('web.internal');
    expect(normalizeDnsName('_svc.web-1.internal')).toBe('_svc.web-1.internal');
    for (const bad of ['', 'a..b', 'a.', '.a', '-a.b', 'a-.b', 'a b', 'a/b', 'a:b', '*.a', 'x'.repeat(64), 'é.a']) {
      expect(normalizeDnsName(bad), bad).toBeUndefined();
    }
  });
});

describe(SanAllowlist.name, () => {
  const id = (uris: string[], dns: string[] = []): ClientIdentity => ({ uris, dns });

  it('admits an exact URI SAN and refuses a longer one that shares the prefix', () => {
    const list = new SanAllowlist([INGRESS]);
    expect(list.check(id([INGRESS]))).toEqual({ admitted: true, matched: INGRESS });
    expect(list.check(id([`${INGRESS}-evil`]))).toEqual({ admitted: false, presented: [`URI:${INGRESS}-evil`] });
    expect(list.check(id([`${INGRESS}/sub`])).admitted).toBe(false);
  });

  it('matches URI scheme and authority case-insensitively, the SPIFFE path exactly', () => {
    const list = new SanAllowlist(['SPIFFE://ShieldX.Local/ns/default/sa/ingress']);
    const identity = (uri: string) => certificateIdentity(withNames(['uri', uri])).identity;
    expect(list.check(identity('spiffe://SHIELDX.local/ns/default/sa/ingress'))).toEqual({
      admitted: true,
      matched: INGRESS,
    });
    expect(list.check(identity('spiffe://shieldx.local/ns/default/sa/INGRESS')).admitted).toBe(false);
    expect(list.check(identity('spiffe://shieldx.local/NS/default/sa/ingress')).admitted).toBe(false);
  });

  it('admits under an entry ending in / only at a segment boundary and with clean segments', () => {
    const list = new SanAllowlist(['spiffe://shieldx.local/ns/default/']);
    expect(list.check(id([INGRESS])).admitted).toBe(true);
    expect(list.check(id(['spiffe://shieldx.local/ns/default-evil/sa/x'])).admitted).toBe(false);
    expect(list.check(id(['spiffe://shieldx.local/ns/default/'])).admitted).toBe(false);
    expect(list.check(id(['spiffe://shieldx.local/ns/default/../admin'])).admitted).toBe(false);
    expect(list.check(id(['spiffe://shieldx.local/ns/default/%2E%2E/admin'])).admitted).toBe(false);
    expect(list.check(id(['spiffe://shieldx.local/ns/default/sa%2F..%2Fadmin'])).admitted).toBe(false);
    expect(list.check(id(['spiffe://shieldx.local/ns/default//x'])).admitted).toBe(false);
    expect(list.check(id(['spiffe://shieldx.local/ns/default/sa/x?y=1'])).admitted).toBe(false);
  });

  it('matches a URI entry only against URI SANs: a DNS SAN spelling it is refused', () => {
    for (const entries of [[ADMIN], ['spiffe://shieldx.local/ns/ops/']]) {
      const list = new SanAllowlist(entries);
      // Even if a DNS SAN held the text verbatim (certificateIdentity already drops it), it is not compared.
      expect(list.check(id([], [ADMIN])).admitted, entries[0]).toBe(false);
      expect(list.check(certificateIdentity(withNames(['dns', ADMIN])).identity).admitted).toBe(false);
      expect(list.check(certificateIdentity(withNames(['uri', ADMIN])).identity).admitted).toBe(true);
    }
  });

  it('matches a DNS entry only against DNS SANs, exactly and case-insensitively, never by prefix', () => {
    const list = new SanAllowlist(['Web.Internal']);
    expect(list.check(id([], ['web.internal']))).toEqual({ admitted: true, matched: 'web.internal' });
    expect(list.check(certificateIdentity(withNames(['dns', 'WEB.INTERNAL'])).identity).admitted).toBe(true);
    expect(list.check(id([], ['evil.web.internal'])).admitted).toBe(false);
    expect(list.check(id([], ['web.internal.evil'])).admitted).toBe(false);
    expect(list.check(certificateIdentity(withNames(['dns', 'web.internal.'])).identity).admitted).toBe(false);
    expect(list.check(id(['web.internal'])).admitted).toBe(false);
    expect(list.check(id(['dns://web.internal'])).admitted).toBe(false);
  });

  it('admits when any SAN matches and lists every compared SAN when none does', () => {
    const list = new SanAllowlist([INGRESS]);
    expect(list.check(id(['spiffe://other/x', INGRESS])).admitted).toBe(true);
    expect(list.check(id(['spiffe://other/x'], ['a.b']))).toEqual({
      admitted: false,
      presented: ['URI:spiffe://other/x', 'DNS:a.b'],
    });
    expect(list.check(EMPTY_IDENTITY)).toEqual({ admitted: false, presented: [] });
  });

  it('admits every verified certificate when empty', () => {
    const list = new SanAllowlist([]);
    expect(list.empty).toBe(true);
    expect(list.check(EMPTY_IDENTITY)).toEqual({ admitted: true, matched: null });
  });

  it('rejects entries that are neither a URI nor a DNS name, naming them', () => {
    expect(() => new SanAllowlist(['spiffe://a/b c'])).toThrow(/'spiffe:\/\/a\/b c'/);
    expect(() => new SanAllowlist([' '])).toThrow(/not a SAN/);
    expect(() => new SanAllowlist(['spiffe://a/*'])).toThrow(/wildcards are not supported/);
    expect(() => new SanAllowlist(['*.internal'])).toThrow(/wildcards/);
    expect(() => new SanAllowlist(['web.internal/'])).toThrow(/only a URI entry/);
    expect(() => new SanAllowlist(['shieldx.local/ns/ops/sa/admin'])).toThrow(/only a URI entry/);
    expect(() => new SanAllowlist(['10.0.0.1'])).toThrow(/IP addresses/);
    expect(() => new SanAllowlist(['web.internal.'])).toThrow(/trailing dot/);
    expect(() => new SanAllowlist(['ops@shieldx.local'])).toThrow(/neither a URI/);
    expect(() => new SanAllowlist(['spiffe://u@host/x'])).toThrow(/not a URI SAN/);
    expect(() => new SanAllowlist(['spiffe://host/x?y'])).toThrow(/not a URI SAN/);
    expect(() => new SanAllowlist(['caf\u00e9.internal'])).toThrow(/non-ASCII/);
  });
});
