import { describe, expect, it } from 'vitest';
import { Backend } from '../backend';
import { FakeClock } from '../testing/fake-clock';
import { mulberry32 } from '../testing/mulberry32';
import { backendsWithLatency, runConcurrent, runSerial } from '../testing/simulate';
import { tally } from '../testing/tally';
import { EwmaBalancer } from './ewma';

const SLOW = [10, 10, 100, 10];

describe(EwmaBalancer.name, () => {
  it('sends ≤ 10 % of serial traffic to a backend 10× slower than the others', () => {
    const clock = new FakeClock();
    const backends = backendsWithLatency(clock, SLOW);
    const counts = runSerial(new EwmaBalancer(5, mulberry32(1), clock), clock, backends, SLOW, 10_000);
    expect(counts[2]).toBeLessThanOrEqual(1_000);
    expect(counts[2]).toBeGreaterThan(0); // it is still probed now and then
  });

  it('sends ≤ 10 % of concurrent traffic to the slow backend', () => {
    for (const gapMs of [1, 2, 4, 8]) {
      const clock = new FakeClock();
      const backends = backendsWithLatency(clock, SLOW);
      const counts = runConcurrent(new EwmaBalancer(5, mulberry32(gapMs), clock), clock, backends, SLOW, 10_000, gapMs);
      expect(counts[2]).toBeLessThanOrEqual(1_000);
    }
  });

  it('lets a backend that became fast win traffic back as its old peak decays', () => {
    const clock = new FakeClock();
    const backends = backendsWithLatency(clock, SLOW);
    const balancer = new EwmaBalancer(5, mulberry32(7), clock);
    runSerial(balancer, clock, backends, SLOW, 10_000);
    runSerial(balancer, clock, backends, [10, 10, 10, 10], 10_000); // 100 s of fake time = 10 τ
    const counts = runSerial(balancer, clock, backends, [10, 10, 10, 10], 4_000);
    expect(counts[2]).toBeGreaterThan(800);
  });

  it('minimises ewmaMs × (1 + connPenalty × inflight) / weight', () => {
    const clock = new FakeClock();
    const a = new Backend('http://a:80', 1, { clock, defaultRttMs: 10 });
    const b = new Backend('http://b:80', 1, { clock, defaultRttMs: 40 });
    const ewma = new EwmaBalancer(5, () => 0, clock);
    expect(ewma.pick([a, b], {})).toBe(a); // 10 vs 40
    a.acquire(); // 10 × 6 = 60 vs 40
    expect(ewma.pick([a, b], {})).toBe(b);
    b.setWeight(0.5); // 40 / 0.5 = 80 vs 60
    expect(ewma.pick([a, b], {})).toBe(a);
    expect(new EwmaBalancer(0, () => 0, clock).pick([b, a], {})).toBe(a); // no penalty: 10 vs 80
  });

  it('breaks ties at random over all tied backends', () => {
    const clock = new FakeClock();
    const backends = backendsWithLatency(clock, [1, 1, 1, 1]);
    const ewma = new EwmaBalancer(5, mulberry32(11), clock);
    const counts = tally(
      backends,
      Array.from({ length: 8_000 }, () => ewma.pick(backends, {})!),
    );
    for (const n of counts) expect(Math.abs(n - 2_000)).toBeLessThanOrEqual(100);
  });

  it('returns undefined for no candidates and the only one directly', () => {
    const ewma = new EwmaBalancer(5, () => 0, new FakeClock());
    const only = new Backend('http://a:80');
    expect(ewma.pick([], {})).toBeUndefined();
    expect(ewma.pick([only], {})).toBe(only);
  });
});
