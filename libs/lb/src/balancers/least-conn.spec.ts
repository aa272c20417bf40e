import { describe, expect, it } from 'vitest';
import { Backend } from '../backend';
import { mulberry32 } from '../testing/mulberry32';
import { tally } from '../testing/tally';
import { LeastConnBalancer } from './least-conn';

const make = (weights: number[]) => weights.map((w, i) => new Backend(`http://b${i}:80`, w));

describe(LeastConnBalancer.name, () => {
  it('spreads equal load uniformly (±5 %) through random tie-breaks', () => {
    const lc = new LeastConnBalancer(mulberry32(1));
    const backends = make([1, 1, 1, 1]);
    const picks: Backend[] = [];
    for (let i = 0; i < 10_000; i++) {
      const b = lc.pick(backends, {})!;
      b.acquire();
      b.release();
      picks.push(b);
    }
    for (const n of tally(backends, picks)) expect(Math.abs(n - 2_500)).toBeLessThanOrEqual(125);
  });

  // Whole requests make in-flight ratios coarse: at low concurrency the lightest backend is slightly favoured
  // (≈ +9 % for weight 1 of 10 at 40 in flight); at 100 in flight every share is within 4 %.
  it('follows weights 1,2,3,4 within ±5 % under sustained concurrency', () => {
    const lc = new LeastConnBalancer(mulberry32(2));
    const backends = make([1, 2, 3, 4]);
    const inFlight: Backend[] = [];
    const picks: Backend[] = [];
    for (let i = 0; i < 10_000; i++) {
      const b = lc.pick(backends, {})!;
      b.acquire();
      inFlight.push(b);
      picks.push(b);
      if (inFlight.length > 100) inFlight.shift()!.release(); // 100 concurrent requests, first in first out
    }
    const counts = tally(backends, picks);
    [1_000, 2_000, 3_000, 4_000].forEach((expected, i) => {
      expect(Math.abs(counts[i] - expected)).toBeLessThanOrEqual(expected * 0.05);
    });
  });

  it('picks the backend with the fewest in-flight requests relative to weight', () => {
    const lc = new LeastConnBalancer(mulberry32(3));
    const [a, b, c] = make([1, 1, 4]);
    a.inflight = 3;
    b.inflight = 1;
    c.inflight = 5; // 5/4 > 1/1
    expect(lc.pick([a, b, c], {})).toBe(b);
    c.inflight = 3; // 3/4 < 1/1
    expect(lc.pick([a, b, c], {})).toBe(c);
  });

  it('breaks ties at random, reaching every tied backend', () => {
    const lc = new LeastConnBalancer(mulberry32(4));
    const [a, b, c] = make([1, 2, 1]);
    a.inflight = 2;
    b.inflight = 4; // 4/2 ties 2/1
    c.inflight = 5;
    const counts = tally(
      [a, b, c],
      Array.from({ length: 2_000 }, () => lc.pick([a, b, c], {})!),
    );
    expect(counts[2]).toBe(0);
    expect(counts[0]).toBeGreaterThan(900);
    expect(counts[1]).toBeGreaterThan(900);
  });

  it('returns undefined for no candidates and the only one directly', () => {
    const lc = new LeastConnBalancer(() => 0);
    const [a] = make([1]);
    expect(lc.pick([], {})).toBeUndefined();
    expect(lc.pick([a], {})).toBe(a);
  });
});
