import { describe, expect, it } from 'vitest';
import { canonicalJson, ledgerJson } from './canonical-json';
import { CanonicalJsonError } from './errors';

describe(canonicalJson.name, () => {
  it('does not depend on key order, at any depth', () => {
    const a = { b: 1, a: { d: [1, { z: true, y: null }], c: 'x' } };
    const b = { a: { c: 'x', d: [1, { y: null, z: true }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[1,{"y":null,"z":true}]},"b":1}');
  });

  it('keeps array order and writes no whitespace', () => {
    expect(canonicalJson([3, 1, 2, 'a b'])).toBe('[3,1,2,"a b"]');
  });

  it('sorts keys by UTF-16 code units and escapes strings as JSON.stringify does', () => {
    // "\u00e9" (é, U+00E9) < "\ud83d\ude00" (😀, a surrogate pair starting 0xD83D) < "\uff21" (Ａ, U+FF21) in UTF-16
    // order, although by code point 😀 (U+1F600) would come last.
    const value = { '\uff21': 3, '\ud83d\ude00': 2, é: 1, A: 0, 'line\nbreak': '"quoted"\t' };
    expect(canonicalJson(value)).toBe('{"A":0,"line\\nbreak":"\\"quoted\\"\\t","é":1,"😀":2,"Ａ":3}');
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });

  it('writes numbers as ECMAScript does (RFC 8785)', () => {
    expect(canonicalJson([1e21, 1e-7, -0, 0.1 + 0.2, 100, 1.5])).toBe('[1e+21,1e-7,0,0.30000000000000004,100,1.5]');
  });

  it('honours toJSON and leaves out undefined object members', () => {
    expect(canonicalJson({ at: new Date(Date.UTC(2025, 0, 2)), gone: undefined })).toBe(
      '{"at":"2025-01-02T00:00:00.000Z"}',
    );
  });

  it.each([
    ['NaN', { a: [1, Number.NaN] }, '$.a[1]'],
    ['Infinity', { a: Number.POSITIVE_INFINITY }, '$.a'],
    ['undefined in an array', [undefined], '$[0]'],
    ['undefined at the top', undefined, '$'],
    ['a function', { f: () => 1 }, '$.f'],
    ['a bigint', { n: 1n }, '$.n'],
    ['a symbol', { s: Symbol('s') }, '$.s'],
    ['a Map', { m: new Map() }, '$.m'],
  ])('rejects %s with the path', (_what, value, path) => {
    expect(() => canonicalJson(value)).toThrow(CanonicalJsonError);
    try {
      canonicalJson(value);
    } catch (error) {
      expect((error as CanonicalJsonError).path).toBe(path);
      expect((error as CanonicalJsonError).code).toBe('invalid_value');
    }
  });

  it('rejects cycles', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cycle at \$\.self/);
  });

  it('accepts a value repeated without a cycle', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });
});

describe(ledgerJson.name, () => {
  it('is canonicalJson for safe numbers, and rejects numbers beyond ±(2^53 − 1) with the path', () => {
    const value = { b: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0.5], a: 1 };
    expect(ledgerJson(value)).toBe(canonicalJson(value));
    for (const n of [2 ** 53, -(2 ** 53), 1e21]) {
      expect(() => ledgerJson({ a: [0, n] })).toThrow(/unsafe number .* at \$\.a\[1\]/);
    }
    expect(canonicalJson(1e21)).toBe('1e+21');
  });
});
