import { describe, expect, it } from 'vitest';
import { LruMap } from './lru-map';

const keysOf = (map: LruMap<string, number>): string[] => [...map.newestFirst()].map(([key]) => key);

describe(LruMap.name, () => {
  it('refuses a size that is not a positive integer', () => {
    for (const size of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new LruMap(size)).toThrow(/positive integer/);
    }
  });

  it('drops the least recently used entry beyond its size; a get counts as a use, a peek does not', () => {
    const map = new LruMap<string, number>(3);
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    expect(map.get('a')).toBe(1);
    expect(map.peek('b')).toBe(2);
    map.set('d', 4);
    expect(keysOf(map)).toEqual(['d', 'a', 'c']);
    expect(map.has('b')).toBe(false);
    expect(map.size).toBe(3);
  });

  it('setting a present key replaces its value and makes it the most recent without dropping anything', () => {
    const map = new LruMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    map.set('a', 10);
    expect(keysOf(map)).toEqual(['a', 'b']);
    map.set('c', 3);
    expect(keysOf(map)).toEqual(['c', 'a']);
    expect(map.get('a')).toBe(10);
  });

  it('deletes from either end and the middle, and clears', () => {
    const map = new LruMap<string, number>(5);
    for (const [i, key] of ['a', 'b', 'c', 'd', 'e'].entries()) map.set(key, i);
    expect(map.delete('c')).toBe(true);
    expect(map.delete('a')).toBe(true);
    expect(map.delete('e')).toBe(true);
    expect(map.delete('e')).toBe(false);
    expect(keysOf(map)).toEqual(['d', 'b']);
    map.set('f', 5);
    expect(keysOf(map)).toEqual(['f', 'd', 'b']);
    map.clear();
    expect(map.size).toBe(0);
    expect(keysOf(map)).toEqual([]);
    map.set('g', 6);
    expect(keysOf(map)).toEqual(['g']);
  });

  it('lets the visitor of newestFirst delete the entry it is on', () => {
    const map = new LruMap<string, number>(4);
    for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) map.set(key, i);
    const seen: string[] = [];
    for (const [key, value] of map.newestFirst()) {
      seen.push(key);
      if (value % 2 === 1) map.delete(key);
    }
    expect(seen).toEqual(['d', 'c', 'b', 'a']);
    expect(keysOf(map)).toEqual(['c', 'a']);
  });

  it('agrees with a reference LRU (a Map reordered by delete and set) over random operations', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const size = 8;
    const map = new LruMap<string, number>(size);
    const reference = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const key = `k${random(20)}`;
      const op = random(4);
      if (op === 0) {
        const expected = reference.get(key);
        if (expected !== undefined) {
          reference.delete(key);
          reference.set(key, expected);
        }
        expect(map.get(key)).toBe(expected);
      } else if (op === 1) {
        expect(map.delete(key)).toBe(reference.delete(key));
      } else {
        reference.delete(key);
        if (reference.size >= size) reference.delete(reference.keys().next().value as string);
        reference.set(key, i);
        map.set(key, i);
      }
      expect(map.size).toBe(reference.size);
    }
    expect(keysOf(map)).toEqual([...reference.keys()].reverse());
  });
});
