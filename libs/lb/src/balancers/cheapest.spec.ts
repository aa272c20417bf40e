import { describe, expect, it } from 'vitest';
import { Backend } from '../backend';
import { FakeClock } from '../testing/fake-clock';
import { mulberry32 } from '../testing/mulberry32';
import { backendsWithLatency, runSerial } from '../testing/simulate';
import { CheapestBalancer } from './cheapest';

/** A backend with a fixed latency estimate and, when given, a price per 1,000 requests. */
function priced(clock: FakeClock, name: string, rttMs: number, cost?: number): Backend {
  const b = new Backend(`http://${name}:80`, 1, { clock, defaultRttMs: rttMs });
  if (cost !== undefined) b.setPlace({ cost });
  return b;
}

describe(CheapestBalancer.name, () => {
  it('picks the cheapest backend that meets the objective, whatever the faster ones cost', () => {
    const clock = new FakeClock();
    const cheap = priced(clock, 'cheap', 40, 0.1);
    const dear = priced(clock, 'dear', 5, 1);
    const balancer = new CheapestBalancer(50, 0.2, () => 0, clock);
    expect(balancer.pick([dear, cheap], {})).toBe(cheap);
    // Over the objective: the next cheapest that meets it.
    expect(new CheapestBalancer(30, 0.2, () => 0, clock).pick([cheap, dear], {})).toBe(dear);
  });

  it('counts queued work against the objective: 40 ms with two in flight is 56 ms expected', () => {
    const clock = new FakeClock();
    const cheap = priced(clock, 'cheap', 40, 0.1);
    const dear = priced(clock, 'dear', 5, 1);
    cheap.acquire();
    cheap.acquire();
    expect(new CheapestBalancer(50, 0.2, () => 0, clock).pick([cheap, dear], {})).toBe(dear);
    expect(new CheapestBalancer(60, 0.2, () => 0, clock).pick([cheap, dear], {})).toBe(cheap);
  });

  it('behaves as ewma when no backend meets the objective', () => {
    const clock = new FakeClock();
    const cheap = priced(clock, 'cheap', 200, 0.1);
    const dear = priced(clock, 'dear', 80, 1);
    expect(new CheapestBalancer(50, 0.2, () => 0, clock).pick([cheap, dear], {})).toBe(dear);
  });

  it('ranks a backend without a price last, and breaks price ties by the ewma cost, then at random', () => {
    const clock = new FakeClock();
    const unpriced = priced(clock, 'unpriced', 1);
    const slower = priced(clock, 'slower', 20, 0.5);
    const faster = priced(clock, 'faster', 10, 0.5);
    expect(new CheapestBalancer(50, 0.2, () => 0, clock).pick([unpriced, slower, faster], {})).toBe(faster);
    const twin = priced(clock, 'twin', 10, 0.5);
    const picks = new Set<Backend | undefined>();
    const balancer = new CheapestBalancer(50, 0.2, mulberry32(3), clock);
    for (let i = 0; i < 50; i++) picks.add(balancer.pick([faster, twin, slower], {}));
    expect(picks).toEqual(new Set([faster, twin]));
  });

  it('on cheap-slow and expensive-fast backends: all traffic to the cheap one while it meets the objective', () => {
    const latencies = [30, 30, 5, 5];
    const prices = [0.1, 0.1, 1, 1];
    const run = (sloMs: number) => {
      const clock = new FakeClock();
      const backends = backendsWithLatency(clock, latencies);
      backends.forEach((b, i) => b.setPlace({ cost: prices[i] }));
      return runSerial(new CheapestBalancer(sloMs, 0.2, mulberry32(5), clock), clock, backends, latencies, 4_000);
    };
    const met = run(50);
    expect(met[0] + met[1]).toBe(4_000);
    const missed = run(20);
    expect(missed[2] + missed[3]).toBeGreaterThan(3_600);
  });

  it('returns the only candidate, and undefined for none', () => {
    const clock = new FakeClock();
    const only = priced(clock, 'only', 500);
    const balancer = new CheapestBalancer(50, 0.2, () => 0, clock);
    expect(balancer.pick([only], {})).toBe(only);
    expect(balancer.pick([], {})).toBeUndefined();
  });
});
