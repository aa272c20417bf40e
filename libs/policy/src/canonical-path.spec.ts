import { describe, expect, it } from 'vitest';
import { canonicalPath } from './canonical-path';

const ok = (raw: string) => {
  const result = canonicalPath(raw);
  if (!result.ok) throw new Error(`${raw} refused: ${result.reason}`);
  return result.path;
};
const refused = (raw: string) => canonicalPath(raw).ok === false;

describe(canonicalPath.name, () => {
  it('decodes unreserved characters and upper-cases the other escapes', () => {
    expect(ok('/%69nternal/%7Euser')).toBe('/internal/~user');
    expect(ok('/a%2d%2E%5f')).toBe('/a-._');
    expect(ok('/q%3fx%23v')).toBe('/q%3Fx%23v');
    expect(ok('/%c3%a9')).toBe('/%C3%A9');
  });

  it('encodes characters outside pchar, non-ASCII as UTF-8', () => {
    expect(ok('/é')).toBe('/%C3%A9');
    expect(ok('/q"<>')).toBe('/q%22%3C%3E');
    expect(ok('/€x')).toBe(ok('/%E2%82%ACx'));
    expect(ok('/😀')).toBe('/%F0%9F%98%80');
  });

  it('removes . segments and merges empty ones', () => {
    expect(ok('/./internal/')).toBe('/internal/');
    expect(ok('/%2e/internal/')).toBe('/internal/');
    expect(ok('/a//b')).toBe('/a/b');
    expect(ok('//')).toBe('/');
    expect(ok('/a/.')).toBe('/a/');
    expect(ok('/a//')).toBe('/a/');
    expect(ok('/')).toBe('/');
    expect(ok('/a/b/')).toBe('/a/b/');
    expect(ok('/.well-known/x')).toBe('/.well-known/x');
    expect(ok('/a/...')).toBe('/a/...');
  });

  it('keeps ordinary paths untouched', () => {
    for (const path of ['/update', '/system/@me', '/v1/items', "/a:b@c!$&'()*+,=", '/a-b_c~d.e']) {
      expect(ok(path)).toBe(path);
    }
  });

  it('refuses traversal, however it is written', () => {
    for (const path of ['/a/..', '/../x', '/x/%2e%2e/y', '/.%2e/x', '/%2E%2E', '/a/..;/b', '/x/..%2f', '/a/.%2E/']) {
      expect(refused(path), path).toBe(true);
    }
  });

  it('refuses a query or a fragment: they are not part of the path', () => {
    for (const path of ['/internal?x=1', '/internal#frag', '/internal?/x', '/?', '/a#']) {
      expect(refused(path), path).toBe(true);
    }
    expect(canonicalPath('/internal?x=1')).toEqual({
      ok: false,
      reason: 'a query (?) or fragment (#) is not part of the path: send the path alone',
    });
  });

  it('refuses encoded separators, backslashes, path parameters and double encoding', () => {
    for (const path of [
      '/internal%2fsecret',
      '/internal%2Fsecret',
      '/a%5cb',
      '/a\\b',
      '/internal;x/',
      '/a;',
      '/x/..%3B/internal/',
      '/a%3bb',
      '/%252e%252e/',
      '/%25%32%65',
      '/%2541',
    ]) {
      expect(refused(path), path).toBe(true);
    }
    expect(ok('/100%25')).toBe('/100%25');
    expect(ok('/%25zz')).toBe('/%25zz');
  });

  it('refuses control characters, malformed escapes and invalid UTF-8', () => {
    for (const path of [
      '/a b',
      '/a%00',
      '/a%0d%0a',
      '/a\u0000',
      '/%zz',
      '/%4',
      '/%',
      '/%C0%AE%C0%AE/',
      '/%e2%82',
      '/%80',
      '/\ud800',
    ]) {
      expect(refused(path), JSON.stringify(path)).toBe(true);
    }
    expect(refused('relative')).toBe(true);
  });

  it('is idempotent: the canonical form of a canonical path is itself', () => {
    for (const path of ['/%69nternal/', '/a//./b/', '/é/%7e', '/q"<>']) {
      const once = ok(path);
      expect(ok(once)).toBe(once);
    }
  });
});
