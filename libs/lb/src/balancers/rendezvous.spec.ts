import { describe, expect, it } from 'vitest';
import { Backend } from '../backend';
import { tally } from '../testing/tally';
import { RendezvousBalancer } from './rendezvous';

const make = (weights: number[]) => weights.map((w, i) => new Backend(`http://10.0.0.${i + 1}:8080`, w));
const keys = (n: number) => Array.from({ length: n }, (_, i) => `client-${i}`);

describe(RendezvousBalancer.name, () => {
  it('maps the same key to the same backend every time, whatever the candidate order', () => {
    const hrw = new RendezvousBalancer();
    const backends = make([1, 1, 1, 1, 1]);
    const first = hrw.pick(backends, { key: '203.0.113.7' });
    for (let i = 0; i < 1_000; i++) expect(hrw.pick(backends, { key: '203.0.113.7' })).toBe(first);
    expect(hrw.pick([...backends].reverse(), { key: '203.0.113.7' })).toBe(first);
    expect(new RendezvousBalancer().pick(make([1, 1, 1, 1, 1]), { key: '203.0.113.7' })!.url).toBe(first!.url);
  });

  it('moves only the keys of a removed backend (≤ 25 % of 10k keys for 1 of 5)', () => {
    const hrw = new RendezvousBalancer();
    const backends = make([1, 1, 1, 1, 1]);
    const removed = backends[2];
    const remaining = backends.filter((b) => b !== removed);
    let moved = 0;
    for (const key of keys(10_000)) {
      const before = hrw.pick(backends, { key })!;
      const after = hrw.pick(remaining, { key })!;
      if (before !== after) {
        moved++;
        expect(before).toBe(removed);
      } else {
        expect(before).not.toBe(removed);
      }
    }
    expect(moved).toBeLessThanOrEqual(2_500);
    expect(moved).toBeGreaterThan(1_500); // the removed backend did hold about a fifth
  });

  it('adding a backend takes keys only onto the new one', () => {
    const hrw = new RendezvousBalancer();
    const backends = make([1, 1, 1, 1, 1]);
    const added = new Backend('http://10.0.0.99:8080');
    for (const key of keys(5_000)) {
      const before = hrw.pick(backends, { key })!;
      const after = hrw.pick([...backends, added], { key })!;
      if (before !== after) expect(after).toBe(added);
    }
  });

  it('follows weights 1,2,3,4 over 10k keys within ±5 % of each share', () => {
    const hrw = new RendezvousBalancer();
    const backends = make([1, 2, 3, 4]);
    const counts = tally(
      backends,
      keys(10_000).map((key) => hrw.pick(backends, { key })!),
    );
    [1_000, 2_000, 3_000, 4_000].forEach((expected, i) => {
      expect(Math.abs(counts[i] - expected)).toBeLessThanOrEqual(expected * 0.05);
    });
  });

  it('spreads IP-like keys evenly over equal weights', () => {
    const hrw = new RendezvousBalancer();
    const backends = make([1, 1, 1, 1]);
    const ips = Array.from({ length: 10_000 }, (_, i) => `192.168.${i >> 8}.${i & 255}`);
    const counts = tally(
      backends,
      ips.map((key) => hrw.pick(backends, { key })!),
    );
    for (const n of counts) expect(Math.abs(n - 2_500)).toBeLessThanOrEqual(125);
  });

  it('treats a missing key as the empty key', () => {
    const hrw = new RendezvousBalancer();
    const backends = make([1, 1, 1, 1, 1, 1, 1]);
    const empty = hrw.pick(backends, { key: '' });
    for (let i = 0; i < 10; i++) expect(hrw.pick(backends, {})).toBe(empty);
  });

  it('returns undefined for no candidates and the only one directly', () => {
    const hrw = new RendezvousBalancer();
    const [a] = make([1]);
    expect(hrw.pick([], { key: 'k' })).toBeUndefined();
    expect(hrw.pick([a], { key: 'k' })).toBe(a);
  });
});
