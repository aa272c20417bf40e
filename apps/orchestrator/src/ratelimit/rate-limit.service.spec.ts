import {
  FailoverBucketStore,
  MemoryBucketStore,
  type BucketResult,
  type BucketStore,
  type BucketTake,
  type WallClock,
} from '@shieldx/security';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type OrchestratorConfig } from '../config/config';
import type { SecurityEvent, SecurityEvents } from '../events/security-events';
import { RateLimitedError, RateLimitUnavailableError } from '../errors/errors';
import type { GatewayRequestState } from '../request/request-state';
import type { GatewayMetrics } from '../metrics/gateway-metrics';
import type { RateLimitMetrics } from './rate-limit-metrics';
import type { PoolsService } from '../pools/pools.service';
import type { AdaptiveProtection } from './adaptive-protection';
import { RateLimitService } from './rate-limit.service';

/** Asserts a check answered synchronously (the stores in these tests are in-process). */
function sync(outcome: void | Promise<void>): void {
  if (outcome instanceof Promise) throw new Error('expected a synchronous answer');
}

/** A fake clock advanced by hand. */
class FakeClock implements WallClock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
}

/** Stubs for the service's collaborators that only record what they are told (named as such). */
function stubs(ratio: { value: number }) {
  const counted: string[] = [];
  const events: SecurityEvent[] = [];
  const pools = { healthRatio: () => ratio.value } as unknown as PoolsService;
  const metrics = {
    denied: (reason: string) => counted.push(`denied:${reason}`),
  } as unknown as GatewayMetrics;
  const limitMetrics = {
    rateLimited: (scope: string) => counted.push(`limited:${scope}`),
  } as unknown as RateLimitMetrics;
  const sink = { emit: (event: SecurityEvent) => events.push(event) } as unknown as SecurityEvents;
  /** The adaptive factor each key gets (1 unless set). */
  const factors = new Map<string, number>();
  const adaptive = { factor: (key: string) => factors.get(key) ?? 1 } as unknown as AdaptiveProtection;
  return { counted, events, pools, metrics, limitMetrics, sink, factors, adaptive };
}

/** The service over `store`, with the stubs of {@link stubs}. */
function serviceOf(
  config: OrchestratorConfig,
  store: BucketStore,
  clock: FakeClock,
  parts: ReturnType<typeof stubs>,
): RateLimitService {
  const { pools, metrics, limitMetrics, sink, adaptive } = parts;
  return new RateLimitService(config, store, clock, pools, metrics, limitMetrics, sink, adaptive);
}

describe(RateLimitService.name, () => {
  const { config } = loadConfig({
    ORCH_ALLOW_INSECURE: '1',
    ORCH_IP_BURST: '10',
    ORCH_IP_BURST_DEGRADED: '2',
    ORCH_TENANT_BURST: '5',
    ORCH_TENANT_LIMITS: 'big=50',
  });
  let clock: FakeClock;
  let ratio: { value: number };
  let parts: ReturnType<typeof stubs>;
  let service: RateLimitService;
  const state = (): GatewayRequestState =>
    ({ clientIp: '203.0.113.9', clientKey: '203.0.113.9' }) as GatewayRequestState;

  const make = (store: BucketStore = new MemoryBucketStore()) => serviceOf(config, store, clock, parts);

  /** Synchronous checks that pass, until the first refusal; returns how many passed. */
  const passes = (check: () => void, max = 1000): number => {
    for (let i = 0; i < max; i++) {
      try {
        check();
      } catch (error) {
        expect(error).toBeInstanceOf(RateLimitedError);
        return i;
      }
    }
    return max;
  };

  beforeEach(() => {
    clock = new FakeClock(1_700_000_000_000);
    ratio = { value: 1 };
    parts = stubs(ratio);
    service = make();
  });

  it('gives a tenant its ORCH_TENANT_LIMITS figure and everyone else ORCH_TENANT_BURST', () => {
    expect(passes(() => sync(service.checkTenant('big', state(), 'c')))).toBe(50);
    expect(passes(() => sync(service.checkTenant('acme', state(), 'c')))).toBe(5);
    // 5 per minute: one token every 12 s, to the millisecond.
    clock.t += 11_999;
    expect(passes(() => sync(service.checkTenant('acme', state(), 'c')))).toBe(0);
    clock.t += 1;
    expect(passes(() => sync(service.checkTenant('acme', state(), 'c')))).toBe(1);
  });

  it("multiplies a key's figure by its adaptive factor, never below one token", () => {
    parts.factors.set('tenant:big', 0.1);
    expect(passes(() => sync(service.checkTenant('big', state(), 'c')))).toBe(5);
    parts.factors.set('ip:203.0.113.9', 0.01);
    expect(passes(() => sync(service.checkIp(state(), 'c')))).toBe(1);
  });

  it('drops the per-IP figure while health is degraded and restores it when health recovers', () => {
    ratio.value = 0.25;
    const s = state();
    expect(passes(() => sync(service.checkIp(s, 'c')))).toBe(2);
    expect(s.limit?.limit).toBe(2);
    ratio.value = 1;
    // The normal figure applies at once; the bucket refills at its rate up to the normal size.
    clock.t += 60_000;
    const after = state();
    expect(passes(() => sync(service.checkIp(after, 'c')))).toBe(10);
    expect(after.limit?.limit).toBe(10);
  });

  it('answers 429 with Retry-After and RateLimit headers, counts it, and folds a flood into one event per 10 s', () => {
    for (let i = 0; i < 5; i++) sync(service.checkTenant('acme', state(), 'c'));
    let refusal: unknown;
    for (let i = 0; i < 100; i++) {
      try {
        sync(service.checkTenant('acme', state(), `flood-${i}`));
      } catch (error) {
        refusal = error;
      }
    }
    expect(refusal).toBeInstanceOf(RateLimitedError);
    expect((refusal as RateLimitedError).headers).toEqual({
      'ratelimit-limit': '5',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '60',
      'retry-after': '12',
    });
    expect(parts.counted.filter((c) => c === 'limited:tenant')).toHaveLength(100);
    expect(parts.events).toHaveLength(1);
    expect(parts.events[0]).toMatchObject({
      type: 'ratelimit.denied',
      corrId: 'flood-0',
      data: { scope: 'tenant', key: 'tenant:acme', suppressedSincePrevious: 0 },
    });
    clock.t += 10_000;
    expect(() => sync(service.checkTenant('acme', state(), 'later'))).toThrow(RateLimitedError);
    expect(parts.events[1]).toMatchObject({ corrId: 'later', data: { suppressedSincePrevious: 99 } });
  });

  it('keeps the tightest bucket on the request state for the headers of a successful answer', () => {
    const s = state();
    sync(service.checkIp(s, 'c'));
    sync(service.checkTenant('acme', s, 'c'));
    expect(s.limit).toEqual({ limit: 5, result: { ok: true, remaining: 4, resetMs: 12_000, retryAfterMs: 0 } });
  });

  it('refuses with 429 ratelimit_unavailable when a fail-closed store has lost its backend, sync or async', async () => {
    const broken: BucketStore = {
      take: (): Promise<BucketResult> => Promise.reject(new Error('ECONNREFUSED')),
      takeAll: (): Promise<BucketResult[]> => Promise.reject(new Error('ECONNREFUSED')),
    };
    const store = new FailoverBucketStore(broken, new MemoryBucketStore(), {
      mode: 'closed',
      probe: () => Promise.reject(new Error('ECONNREFUSED')),
    });
    service = make(store);
    await expect(service.checkIp(state(), 'c') as Promise<void>).rejects.toBeInstanceOf(RateLimitUnavailableError);
    expect(() => sync(service.checkTenant('acme', state(), 'c'))).toThrow(RateLimitUnavailableError);
    expect(parts.counted).toEqual(['denied:ratelimit_unavailable', 'denied:ratelimit_unavailable']);
    store.close();
  });
});

/** A store that answers like MemoryBucketStore and records what it was asked (a spy on a real store). */
class RecordingStore implements BucketStore {
  readonly inner = new MemoryBucketStore();
  readonly calls: string[] = [];
  take(key: string, rate: number, burst: number, now: number): BucketResult {
    this.calls.push(`take ${key}`);
    return this.inner.take(key, rate, burst, now);
  }
  takeAll(takes: readonly BucketTake[], now: number): readonly BucketResult[] {
    this.calls.push(`takeAll ${takes.map((t) => t.key).join(' ')}`);
    return this.inner.takeAll(takes, now);
  }
}

describe(`${RateLimitService.name} with a shared store (Redis configured)`, () => {
  const { config } = loadConfig({
    ORCH_ALLOW_INSECURE: '1',
    REDIS_ADDR: '127.0.0.1:6379',
    ORCH_IP_BURST: '3',
    ORCH_IP_BURST_DEGRADED: '3',
    ORCH_TENANT_BURST: '100',
  });
  let clock: FakeClock;
  let store: RecordingStore;
  let parts: ReturnType<typeof stubs>;
  let service: RateLimitService;
  const state = (): GatewayRequestState =>
    ({ clientIp: '198.51.100.4', clientKey: '198.51.100.4' }) as GatewayRequestState;

  beforeEach(() => {
    clock = new FakeClock(1_700_000_000_000);
    store = new RecordingStore();
    parts = stubs({ value: 1 });
    service = serviceOf(config, store, clock, parts);
  });

  it('takes the IP and tenant tokens in one call at the tenant step', () => {
    const s = state();
    sync(service.checkIp(s, 'c'));
    expect(store.calls).toEqual([]);
    sync(service.checkTenant('acme', s, 'c'));
    expect(store.calls).toEqual(['takeAll ip:198.51.100.4 tenant:acme']);
    expect(s.limit).toMatchObject({ limit: 3, result: { remaining: 2 } });
  });

  it('remembers an IP refusal and refuses before the body until its Retry-After, exactly', () => {
    for (let i = 0; i < 3; i++) {
      const s = state();
      sync(service.checkIp(s, 'c'));
      sync(service.checkTenant('acme', s, 'c'));
    }
    const s = state();
    sync(service.checkIp(s, 'c'));
    expect(() => sync(service.checkTenant('acme', s, 'c'))).toThrow(RateLimitedError);
    store.calls.length = 0;
    // 3 per minute: the next token exists 20 s after the bucket emptied.
    clock.t += 19_999;
    expect(() => sync(service.checkIp(state(), 'early'))).toThrow(RateLimitedError);
    expect(store.calls).toEqual([]);
    clock.t += 1;
    const later = state();
    sync(service.checkIp(later, 'c'));
    sync(service.checkTenant('acme', later, 'c'));
    expect(store.calls).toEqual(['takeAll ip:198.51.100.4 tenant:acme']);
    expect(parts.counted.filter((c) => c === 'limited:ip')).toHaveLength(2);
  });

  it('a request answered before its tenant step still pays its IP token afterwards', () => {
    for (let i = 0; i < 3; i++) {
      const s = state();
      sync(service.checkIp(s, 'c'));
      service.takeOwedIp(s);
      service.takeOwedIp(s);
    }
    expect(store.calls).toEqual(['take ip:198.51.100.4', 'take ip:198.51.100.4', 'take ip:198.51.100.4']);
    const s = state();
    sync(service.checkIp(s, 'c'));
    service.takeOwedIp(s);
    // That take was refused: the next request is refused before its body.
    expect(() => sync(service.checkIp(state(), 'c'))).toThrow(RateLimitedError);
  });
});
