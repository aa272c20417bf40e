import { describe, expect, it } from 'vitest';
import { Backend } from '../backend';
import { FakeClock } from '../testing/fake-clock';
import { mulberry32 } from '../testing/mulberry32';
import { backendsWithLatency, runConcurrent, runSerial } from '../testing/simulate';
import { tally } from '../testing/tally';
import { P2cBalancer } from './p2c';

const SLOW = [10, 10, 100, 10];

describe(P2cBalancer.name, () => {
  it('sends ≤ 10 % of serial traffic to a backend 10× slower than the others', () => {
    const clock = new FakeClock();
    const backends = backendsWithLatency(clock, SLOW);
    const counts = runSerial(new P2cBalancer(5, mulberry32(1), clock), clock, backends, SLOW, 10_000);
    expect(counts[2]).toBeLessThanOrEqual(1_000);
  });

  it('sends ≤ 10 % of concurrent traffic to the slow backend', () => {
    for (const gapMs of [1, 2, 4, 8]) {
      const clock = new FakeClock();
      const backends = backendsWithLatency(clock, SLOW);
      const counts = runConcurrent(new P2cBalancer(5, mulberry32(gapMs), clock), clock, backends, SLOW, 10_000, gapMs);
      expect(counts[2]).toBeLessThanOrEqual(1_000);
    }
  });

  it('compares two distinct backends even when the random source repeats itself', () => {
    const clock = new FakeClock();
    const [b0, b1, b2] = [50, 20, 5].map((rtt, i) => new Backend(`http://b${i}:80`, 1, { clock, defaultRttMs: rtt }));
    // 0 → indices 0 and (0 → shifted to) 1; a naive sampler would compare b0 with itself.
    expect(new P2cBalancer(5, () => 0, clock).pick([b0, b1, b2], {})).toBe(b1);
    // ≈1 → indices 2 and 1 (never 2 twice); also clamps a source that returns exactly 1.
    expect(new P2cBalancer(5, () => 0.999_999, clock).pick([b2, b1, b0], {})).toBe(b1);
    expect(new P2cBalancer(5, () => 1, clock).pick([b2, b1, b0], {})).toBe(b1);
  });

  it('keeps the lower of ewmaMs × (1 + connPenalty × inflight) / weight', () => {
    const clock = new FakeClock();
    const a = new Backend('http://a:80', 1, { clock, defaultRttMs: 10 });
    const b = new Backend('http://b:80', 1, { clock, defaultRttMs: 40 });
    const p2c = new P2cBalancer(5, () => 0, clock);
    expect(p2c.pick([a, b], {})).toBe(a);
    a.acquire();
    expect(p2c.pick([a, b], {})).toBe(b);
    b.setWeight(0.5);
    expect(p2c.pick([a, b], {})).toBe(a);
  });

  it('samples uniformly and flips a coin on equal costs', () => {
    const clock = new FakeClock();
    const backends = backendsWithLatency(clock, [1, 1, 1, 1, 1]);
    const p2c = new P2cBalancer(5, mulberry32(5), clock);
    const counts = tally(
      backends,
      Array.from({ length: 10_000 }, () => p2c.pick(backends, {})!),
    );
    for (const n of counts) expect(Math.abs(n - 2_000)).toBeLessThanOrEqual(100);
  });

  it('returns undefined for no candidates and the only one directly', () => {
    const p2c = new P2cBalancer(5, () => 0, new FakeClock());
    const only = new Backend('http://a:80');
    expect(p2c.pick([], {})).toBeUndefined();
    expect(p2c.pick([only], {})).toBe(only);
  });
});
