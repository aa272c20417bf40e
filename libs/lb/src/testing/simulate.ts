import { Backend } from '../backend';
import type { Balancer } from '../balancers/balancer';
import { type FakeClock } from './fake-clock';

/**
 * Backends with fixed latencies (ms) on one fake clock, default RTT 50 ms and decay 10 s: the set-up of the
 * "slow backend" scenarios.
 */
export function backendsWithLatency(clock: FakeClock, latencies: readonly number[]): Backend[] {
  return latencies.map((_, i) => new Backend(`http://b${i}:80`, 1, { clock }));
}

/**
 * Serial traffic: each request is picked, runs for its backend's latency (the clock advances by it), then is observed
 * and released. Returns how many requests each backend got.
 */
export function runSerial(
  balancer: Balancer,
  clock: FakeClock,
  backends: readonly Backend[],
  latencies: readonly number[],
  requests: number,
): number[] {
  const counts = backends.map(() => 0);
  for (let r = 0; r < requests; r++) {
    const b = balancer.pick(backends, { now: clock.now() })!;
    const i = backends.indexOf(b);
    counts[i]++;
    b.acquire();
    clock.advance(latencies[i]);
    b.observe(latencies[i]);
    b.release();
  }
  return counts;
}

/**
 * Concurrent open-loop traffic: a request arrives every `gapMs`; each runs for its backend's latency and, when it
 * ends, is observed and released. Returns how many requests each backend got.
 */
export function runConcurrent(
  balancer: Balancer,
  clock: FakeClock,
  backends: readonly Backend[],
  latencies: readonly number[],
  requests: number,
  gapMs: number,
): number[] {
  const counts = backends.map(() => 0);
  const pending: { end: number; backend: Backend; latency: number }[] = [];
  const finishUntil = (t: number) => {
    pending.sort((a, b) => a.end - b.end);
    while (pending.length > 0 && pending[0].end <= t) {
      const p = pending.shift()!;
      p.backend.observe(p.latency, p.end);
      p.backend.release();
    }
  };
  for (let r = 0; r < requests; r++) {
    const now = clock.advance(gapMs);
    finishUntil(now);
    const b = balancer.pick(backends, { now })!;
    const i = backends.indexOf(b);
    counts[i]++;
    b.acquire();
    pending.push({ end: now + latencies[i], backend: b, latency: latencies[i] });
  }
  return counts;
}
