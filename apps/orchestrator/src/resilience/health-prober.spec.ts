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
 * A prober of the backends `urls` whose probes answer as `answers` says (true = 2xx; each backend goes through the
 * list on its own), with the delays it schedules recorded. Timers are fake; `Math.random` is pinned by most tests.
 */
function prober(answers: boolean[], urls: readonly string[] = [URL_]) {
  const { config } = loadConfig({ ORCH_ALLOW_INSECURE: '1', ORCH_HEALTH_EVERY: '1s' });
  const backends = new Map(urls.map((url) => [url, new Backend(url)]));
  const pools = {
    backends: () => backends,
    onChange: () => () => undefined,
  } as unknown as PoolsService;
  const calls = new Map<string, number>();
  const upstreams = {
    basePath: () => '',
    get: (url: string) => ({
      request: () => {
        const call = calls.get(url) ?? 0;
        calls.set(url, call + 1);
        const ok = answers[Math.min(call, answers.length - 1)];
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
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
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

  it('keeps two failing backends probed together at start out of step, each within its backed-off window', async () => {
    // Real randomness: two backends that start together must drift apart, whatever the draws.
    const urls = ['http://127.0.0.1:9', 'http://127.0.0.1:10'];
    const { service, results } = prober([false], urls);
    const started = Date.now();
    const at = new Map<string, number[]>(urls.map((url) => [url, []]));
    service.onProbe((result) => at.get(result.backend)?.push(Date.now() - started));
    service.onApplicationBootstrap();
    // Probes at 0, then after 2 s, 4 s, 8 s, 8 s (±10 % each): five per backend within 22 s × 1.1 = 24.2 s.
    await vi.advanceTimersByTimeAsync(24_200);
    service.onApplicationShutdown();
    expect(results).toHaveLength(10);
    const [first, second] = urls.map((url) => at.get(url)!);
    for (const times of [first, second]) {
      const gaps = times.slice(1).map((time, i) => time - times[i]);
      [2, 4, 8, 8].forEach((factor, i) => {
        expect(gaps[i]).toBeGreaterThanOrEqual(EVERY_MS * factor * 0.9);
        expect(gaps[i]).toBeLessThanOrEqual(EVERY_MS * factor * 1.1);
      });
    }
    expect(first[0]).toBe(second[0]);
    expect(first).not.toEqual(second);
  });
});
