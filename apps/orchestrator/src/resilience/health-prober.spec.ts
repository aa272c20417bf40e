import { Backend } from '@shieldx/lb';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { loadConfig } from '../config/config';
import type { PoolsService } from '../pools/pools.service';
import type { Upstreams } from '../upstream/upstreams';
import { HealthProber, type ProbeResult } from './health-prober';
import type { ResilienceMetrics } from './resilience-metrics';

const EVERY_MS = 1000;
const URL_ = 'http://127.0.0.1:9';

/**
 * A prober of one backend whose probes answer as `answers` says (true = 2xx), with the delays it schedules recorded.
 * Timers are fake; `Math.random` is pinned by each test.
 */
function prober(answers: boolean[]) {
  const { config } = loadConfig({ ORCH_ALLOW_INSECURE: '1', ORCH_HEALTH_EVERY: '1s' });
  const backend = new Backend(URL_);
  const pools = {
    backends: () => new Map([[URL_, backend]]),
    onChange: () => () => undefined,
  } as unknown as PoolsService;
  let call = 0;
  const upstreams = {
    basePath: () => '',
    get: () => ({
      request: () => {
        const ok = answers[Math.min(call++, answers.length - 1)];
        return Promise.resolve({ statusCode: ok ? 200 : 503, body: { dump: () => Promise.resolve() } });
      },
    }),
  } as unknown as Upstreams;
  const metrics = { probed: () => undefined } as unknown as ResilienceMetrics;
  const service = new HealthProber(config, pools, upstreams, metrics);
  const results: ProbeResult[] = [];
  service.onProbe((result) => results.push(result));
  return { service, results };
}

/** The delays of the probe timers scheduled so far (the ones of a probe's own deadline are not setTimeout's). */
function scheduledDelays(spy: MockInstance<typeof setTimeout>): number[] {
  return spy.mock.calls.map((args) => Number(args[1]));
}

describe(HealthProber.name, () => {
  let timeouts: MockInstance<typeof setTimeout>;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    timeouts = vi.spyOn(globalThis, 'setTimeout');
  });

  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  /** Lets the prober run `probes` probes (the first at once, then one per scheduled timer). */
  async function runProbes(results: ProbeResult[], probes: number): Promise<void> {
    for (let i = 0; i < probes; i++) {
      await vi.waitFor(() => expect(results.length).toBeGreaterThan(i));
      if (i < probes - 1) await vi.runOnlyPendingTimersAsync();
    }
  }

  it('backs off ×2 per consecutive failure up to ×8, and returns to the interval after a success', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // no jitter
    const { service, results } = prober([false, false, false, false, false, true, true]);
    service.onApplicationBootstrap();
    await runProbes(results, 7);
    service.onApplicationShutdown();
    expect(results.map((r) => r.healthy)).toEqual([false, false, false, false, false, true, true]);
    expect(scheduledDelays(timeouts).slice(0, 7)).toEqual([2000, 4000, 8000, 8000, 8000, 1000, 1000]);
  });

  it('spreads each interval by at most ±10 % at random', async () => {
    const random = vi.spyOn(Math, 'random');
    random.mockReturnValueOnce(0).mockReturnValueOnce(0.999_999).mockReturnValue(0.25);
    const { service, results } = prober([true]);
    service.onApplicationBootstrap();
    await runProbes(results, 3);
    service.onApplicationShutdown();
    const [low, high, quarter] = scheduledDelays(timeouts);
    expect(low).toBeCloseTo(EVERY_MS * 0.9, 5);
    expect(high).toBeCloseTo(EVERY_MS * 1.1, 2);
    expect(high).toBeLessThanOrEqual(EVERY_MS * 1.1);
    expect(quarter).toBeCloseTo(EVERY_MS * 0.95, 5);
  });
});
