import { describe, expect, it } from 'vitest';
import { Backend } from '../backend';
import { FakeClock } from '../testing/fake-clock';
import { mulberry32 } from '../testing/mulberry32';
import { backendsWithLatency, runConcurrent } from '../testing/simulate';
import { DEFAULT_CONN_PENALTY, loadCost } from './cost';
import { createBalancer } from './create-balancer';
import { EwmaBalancer } from './ewma';

/** Two fast backends, one 6× slower, one jittery on average, as seen through a proxy (its own time included). */
const PROXIED = [3.5, 3.5, 21.5, 18.5];

describe('the default in-flight penalty', () => {
  it('is the one createBalancer uses when none is given', () => {
    expect(DEFAULT_CONN_PENALTY).toBe(0.2);
    const clock = new FakeClock();
    const fast = new Backend('http://fast:80', 1, { clock, defaultRttMs: 2 });
    const slow = new Backend('http://slow:80', 1, { clock, defaultRttMs: 20 });
    const ewma = createBalancer('ewma', { clock, random: () => 0 });
    for (let i = 0; i < 40; i++) fast.acquire();
    // 2 × (1 + 0.2 × 40) = 18 < 20: a 10× faster backend keeps winning with 40 requests in flight…
    expect(loadCost(fast, clock.now(), DEFAULT_CONN_PENALTY)).toBeCloseTo(18);
    expect(ewma.pick([slow, fast], {})).toBe(fast);
    // …and loses at 50: 2 × (1 + 0.2 × 50) = 22 > 20.
    for (let i = 0; i < 10; i++) fast.acquire();
    expect(ewma.pick([fast, slow], {})).toBe(slow);
  });

  it('keeps ewma off the slow and jittery backends at 1 request per ms, where 5 spread a tenth of it there', () => {
    const badShare = (penalty: number) => {
      const clock = new FakeClock();
      const backends = backendsWithLatency(clock, PROXIED);
      const counts = runConcurrent(
        new EwmaBalancer(penalty, mulberry32(3), clock),
        clock,
        backends,
        PROXIED,
        20_000,
        1,
      );
      return (counts[2] + counts[3]) / 20_000;
    };
    expect(badShare(DEFAULT_CONN_PENALTY)).toBeLessThanOrEqual(0.04);
    expect(badShare(5)).toBeGreaterThanOrEqual(0.08);
  });
});
