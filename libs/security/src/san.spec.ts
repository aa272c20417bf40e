import { describe, expect, it } from 'vitest';
import { EMPTY_IDENTITY, parseSubjectAltName, SanAllowlist, type ClientIdentity } from './san';

const INGRESS = 'spiffe://shieldx.local/ns/default/sa/ingress';

describe(parseSubjectAltName.name, () => {
  it('keeps URI and DNS entries and ignores IP, email and other kinds', () => {
    expect(
      parseSubjectAltName(`DNS:web.internal, URI:${INGRESS}, IP Address:127.0.0.1, email:a@b.c, DNS:localhost`),
    ).toEqual({ uris: [INGRESS], dns: ['web.internal', 'localhost'] });
  });

  it('returns the empty identity for no SANs', () => {
    expect(parseSubjectAltName(undefined)).toBe(EMPTY_IDENTITY);
    expect(parseSubjectAltName('')).toBe(EMPTY_IDENTITY);
  });

  // Exactly what Node 20 prints for a certificate with URI SANs `spiffe://x/a,b` and `spiffe://x/quo\te`.
  it('decodes the quoted entries Node writes for values holding commas or backslashes', () => {
    const text = 'URI:"spiffe://x/a\\u002cb", URI:"spiffe://x/quo\\\\te", DNS:foo, URI:spiffe://plain/x';
    expect(parseSubjectAltName(text)).toEqual({
      uris: ['spiffe://x/a,b', 'spiffe://x/quo\\te', 'spiffe://plain/x'],
      dns: ['foo'],
    });
  });

  it('does not let a quoted value smuggle a second entry', () => {
    const text = `URI:"spiffe://evil/x, URI:${INGRESS}"`;
    expect(parseSubjectAltName(text)).toEqual({ uris: [`spiffe://evil/x, URI:${INGRESS}`], dns: [] });
  });

  it('rejects text outside the grammar', () => {
    expect(() => parseSubjectAltName('garbage')).toThrow(/malformed/);
    expect(() => parseSubjectAltName('URI:"unterminated')).toThrow(/unterminated/);
    expect(() => parseSubjectAltName('URI:"a"x')).toThrow(/malformed/);
  });
});

describe(SanAllowlist.name, () => {
  const id = (uris: string[], dns: string[] = []): ClientIdentity => ({ uris, dns });

  it('admits an exact URI SAN and refuses a longer one that shares the prefix', () => {
    const list = new SanAllowlist([INGRESS]);
    expect(list.check(id([INGRESS]))).toEqual({ admitted: true, matched: INGRESS });
    expect(list.check(id([`${INGRESS}-evil`]))).toEqual({ admitted: false, presented: [`URI:${INGRESS}-evil`] });
    expect(list.check(id([`${INGRESS}/sub`])).admitted).toBe(false);
    expect(list.check(id(['spiffe://shieldx.local/ns/default/sa/INGRESS'])).admitted).toBe(false);
  });

  it('admits under an entry ending in / only at a segment boundary and with clean segments', () => {
    const list = new SanAllowlist(['spiffe://shieldx.local/ns/default/']);
    expect(list.check(id([INGRESS])).admitted).toBe(true);
    expect(list.check(id(['spiffe://shieldx.local/ns/default-evil/sa/x'])).admitted).toBe(false);
    expect(list.check(id(['spiffe://shieldx.local/ns/default/'])).admitted).toBe(false);
    expect(list.check(id(['spiffe://shieldx.local/ns/default/../admin'])).admitted).toBe(false);
    expect(list.check(id(['spiffe://shieldx.local/ns/default/%2E%2E/admin'])).admitted).toBe(false);
    expect(list.check(id(['spiffe://shieldx.local/ns/default//x'])).admitted).toBe(false);
    expect(list.check(id(['spiffe://shieldx.local/ns/default/sa/x?y=1'])).admitted).toBe(false);
  });

  it('matches DNS SANs exactly and case-insensitively, never by prefix', () => {
    const list = new SanAllowlist(['web.internal', 'spiffe://shieldx.local/']);
    expect(list.check(id([], ['WEB.internal']))).toEqual({ admitted: true, matched: 'web.internal' });
    expect(list.check(id([], ['evil.web.internal'])).admitted).toBe(false);
    expect(list.check(id([], ['web.internal.evil'])).admitted).toBe(false);
  });

  it('admits when any SAN matches and lists every presented SAN when none does', () => {
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

  it('rejects entries with spaces, control characters or wildcards, naming them', () => {
    expect(() => new SanAllowlist(['spiffe://a/b c'])).toThrow(/'spiffe:\/\/a\/b c'/);
    expect(() => new SanAllowlist([' '])).toThrow(/not a SAN/);
    expect(() => new SanAllowlist(['spiffe://a/*'])).toThrow(/wildcards are not supported/);
  });
});
