import { describe, expect, it } from 'vitest';
import { type Hash64, hashString64, mixToUnit } from './hash';

const MASK64 = (1n << 64n) - 1n;

/** Reference MurmurHash3 fmix64 in BigInt. */
function fmix64Ref(x: bigint): bigint {
  x ^= x >> 33n;
  x = (x * 0xff51afd7ed558ccdn) & MASK64;
  x ^= x >> 33n;
  x = (x * 0xc4ceb9fe1a85ec53n) & MASK64;
  x ^= x >> 33n;
  return x;
}

function unitRef(aHi: number, aLo: number, bHi: number, bLo: number): number {
  const a = (BigInt(aHi) << 32n) | BigInt(aLo);
  const b = (BigInt(bHi) << 32n) | BigInt(bLo);
  const top52 = fmix64Ref(a ^ b) >> 12n;
  return (Number(top52) + 0.5) / 2 ** 52;
}

describe(mixToUnit.name, () => {
  it('matches a BigInt fmix64 reference bit for bit', () => {
    let s = 0x12345678;
    const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
    const edge = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff];
    const cases: number[][] = [];
    for (const a of edge) for (const b of edge) cases.push([a, b, b, a]);
    for (let i = 0; i < 2_000; i++) cases.push([next(), next(), next(), next()]);
    for (const [a, b, c, d] of cases) {
      expect(mixToUnit(a, b, c, d)).toBe(unitRef(a, b, c, d));
    }
  });

  it('stays strictly inside (0, 1) so the log is finite', () => {
    const values = [mixToUnit(0, 0, 0, 0), mixToUnit(0xffffffff, 0xffffffff, 0, 0)];
    for (let i = 0; i < 1_000; i++) values.push(mixToUnit(i, i * 7, 0, 0));
    for (const v of values) {
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(1);
      expect(Number.isFinite(Math.log(v))).toBe(true);
    }
  });
});

describe(hashString64.name, () => {
  it('is deterministic, seed-dependent and spreads similar keys', () => {
    const h = (s: string, seed = 1): Hash64 => hashString64(s, seed, { hi: 0, lo: 0 });
    expect(h('10.0.0.1')).toEqual(h('10.0.0.1'));
    expect(h('10.0.0.1', 1)).not.toEqual(h('10.0.0.1', 2));
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const { hi, lo } = h(`10.0.${i >> 8}.${i & 255}`);
      seen.add(`${hi}:${lo}`);
      expect(hi).toBe(hi >>> 0);
      expect(lo).toBe(lo >>> 0);
    }
    expect(seen.size).toBe(10_000);
  });
});
