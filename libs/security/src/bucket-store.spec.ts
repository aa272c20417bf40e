import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryBucketStore, type BucketResult, type BucketStore, type BucketTake } from './bucket-store';
import { BucketStoreUnavailableError, FailoverBucketStore, type PrimaryStateChange } from './failover-bucket-store';
import { RefusalCache } from './refusal-cache';

/** Takes `n` tokens at one instant and returns how many were granted. */
function drain(store: MemoryBucketStore, key: string, rate: number, burst: number, now: number, n: number): number {
  let granted = 0;
  for (let i = 0; i < n; i++) if (store.take(key, rate, burst, now).ok) granted++;
  return granted;
}

describe(`${MemoryBucketStore.name} with fake time`, () => {
  const T0 = 1_700_000_000_000;

  it('starts full: exactly `burst` takes pass at one instant, the next is refused', () => {
    const store = new MemoryBucketStore();
    expect(drain(store, 'k', 120, 120, T0, 500)).toBe(120);
  });

  it('refills at rate/60 000 tokens per ms, to the exact millisecond', () => {
    const store = new MemoryBucketStore();
    // 120 per minute = one token every 500 ms.
    drain(store, 'k', 120, 10, T0, 10);
    const early = store.take('k', 120, 10, T0 + 499);
    expect(early).toMatchObject({ ok: false, remaining: 0 });
    // Derived times are rounded up from floating point: within a millisecond of the exact figure.
    expect(early.retryAfterMs).toBeGreaterThanOrEqual(1);
    expect(early.retryAfterMs).toBeLessThanOrEqual(2);
    expect(Math.abs(early.resetMs - 4501)).toBeLessThanOrEqual(1);
    expect(store.take('k', 120, 10, T0 + 500)).toEqual({ ok: true, remaining: 0, resetMs: 5000, retryAfterMs: 0 });
    expect(store.take('k', 120, 10, T0 + 999).ok).toBe(false);
    expect(store.take('k', 120, 10, T0 + 1000).ok).toBe(true);
    // 2.5 s idle: 5 tokens, no more.
    expect(drain(store, 'k', 120, 10, T0 + 3500, 100)).toBe(5);
  });

  it('keeps fractional tokens between takes', () => {
    const store = new MemoryBucketStore();
    drain(store, 'k', 60, 2, T0, 2);
    // Three steps of 400 ms: 0.4, 0.8, 1.2 tokens; only the third reaches one, and 0.2 is kept.
    expect(store.take('k', 60, 2, T0 + 400).ok).toBe(false);
    expect(store.take('k', 60, 2, T0 + 800).ok).toBe(false);
    const third = store.take('k', 60, 2, T0 + 1200);
    expect(third.ok).toBe(true);
    expect(Math.abs(third.resetMs - 1800)).toBeLessThanOrEqual(1);
    expect(store.take('k', 60, 2, T0 + 1999).ok).toBe(false);
    expect(store.take('k', 60, 2, T0 + 2000).ok).toBe(true);
  });

  it('refills from the new time after the wall clock steps back, instead of waiting for it to catch up', () => {
    const store = new MemoryBucketStore();
    expect(drain(store, 'k', 600, 3, T0, 3)).toBe(3);
    const back = T0 - 3_600_000;
    // No time has passed by the new clock: nothing refilled, nothing owed.
    expect(store.take('k', 600, 3, back).ok).toBe(false);
    // 100 ms later by the new clock one token is back (600/min), as it would be without the step.
    expect(store.take('k', 600, 3, back + 100).ok).toBe(true);
    expect(store.take('k', 600, 3, back + 100).ok).toBe(false);
  });

  it('never holds more than the burst, however long it idles', () => {
    const store = new MemoryBucketStore();
    drain(store, 'k', 600, 3, T0, 3);
    expect(drain(store, 'k', 600, 3, T0 + 86_400_000, 10)).toBe(3);
  });

  it('admits rate × t + burst over a long run, not one more', () => {
    const store = new MemoryBucketStore();
    let granted = 0;
    // One attempt per ms for 60 s at 600/min with a burst of 50.
    for (let t = 0; t < 60_000; t++) if (store.take('k', 600, 50, T0 + t).ok) granted++;
    expect(granted).toBe(50 + 599);
  });

  it('reports remaining, time until full and Retry-After consistently', () => {
    const store = new MemoryBucketStore();
    expect(store.take('k', 60, 5, T0)).toEqual({ ok: true, remaining: 4, resetMs: 1000, retryAfterMs: 0 });
    drain(store, 'k', 60, 5, T0, 4);
    expect(store.take('k', 60, 5, T0 + 250)).toEqual({ ok: false, remaining: 0, resetMs: 4750, retryAfterMs: 750 });
  });

  it('a different limit for the same key (a per-tenant override, the degraded figure) applies at once', () => {
    const store = new MemoryBucketStore();
    expect(drain(store, 'tenant:big', 5000, 5000, T0, 6000)).toBe(5000);
    expect(drain(store, 'tenant:small', 10, 10, T0, 6000)).toBe(10);
    // Dropping a full bucket's figure caps what it holds at the new size on its next refill.
    drain(store, 'ip:x', 200, 200, T0, 100);
    expect(drain(store, 'ip:x', 50, 50, T0 + 1, 1000)).toBe(50);
  });

  it('evicts the least recently used bucket beyond maxKeys; a re-created bucket starts full', () => {
    const store = new MemoryBucketStore({ maxKeys: 3 });
    for (const key of ['a', 'b', 'c']) drain(store, key, 60, 2, T0, 2);
    store.take('a', 60, 2, T0 + 1); // a is now the most recent
    store.take('d', 60, 2, T0 + 2); // evicts b
    expect(store.size).toBe(3);
    expect(drain(store, 'b', 60, 2, T0 + 3, 5)).toBe(2);
    // c was evicted by b's return; a and d kept their (empty) state.
    expect(store.take('a', 60, 2, T0 + 4).ok).toBe(false);
    expect(drain(store, 'c', 60, 2, T0 + 5, 5)).toBe(2);
  });

  it('takeAll takes in order and stops at the first refusal, keeping what it took before', () => {
    const store = new MemoryBucketStore();
    const both: BucketTake[] = [
      { key: 'ip:a', ratePerMinute: 60, burst: 3 },
      { key: 'tenant:t', ratePerMinute: 60, burst: 1 },
    ];
    expect(store.takeAll(both, T0).map((r) => r.ok)).toEqual([true, true]);
    // The tenant is empty: the IP token of this call is taken, the tenant is refused.
    expect(store.takeAll(both, T0).map((r) => [r.ok, r.remaining])).toEqual([
      [true, 1],
      [false, 0],
    ]);
    drain(store, 'ip:a', 60, 3, T0, 1);
    // The IP is empty: the tenant bucket is not touched.
    expect(store.takeAll(both, T0 + 500)).toHaveLength(1);
    expect(store.take('tenant:t', 60, 1, T0 + 1000).ok).toBe(true);
  });

  it('stays bounded under a flood of distinct keys', () => {
    const store = new MemoryBucketStore({ maxKeys: 1000 });
    for (let i = 0; i < 50_000; i++) store.take(`ip:${i}`, 60, 5, T0 + i);
    expect(store.size).toBe(1000);
  });
});

/** A fake primary for the failover logic: answers like an in-process store, or fails on demand, asynchronously. */
class FakePrimary implements BucketStore {
  readonly inner = new MemoryBucketStore();
  failing: Error | null = null;
  calls = 0;
  take(key: string, rate: number, burst: number, now: number): Promise<BucketResult> {
    this.calls++;
    const failing = this.failing;
    return failing === null ? Promise.resolve(this.inner.take(key, rate, burst, now)) : Promise.reject(failing);
  }
  takeAll(takes: readonly BucketTake[], now: number): Promise<readonly BucketResult[]> {
    this.calls++;
    const failing = this.failing;
    return failing === null ? Promise.resolve(this.inner.takeAll(takes, now)) : Promise.reject(failing);
  }
}

describe(FailoverBucketStore.name, () => {
  let primary: FakePrimary;
  let fallback: MemoryBucketStore;
  let probeOk: boolean;
  let probes: number;
  let changes: PrimaryStateChange[];
  const clock = { now: () => 1_000 };

  const make = (mode: 'open' | 'closed' = 'open'): FailoverBucketStore => {
    const store = new FailoverBucketStore(primary, fallback, {
      mode,
      probeEveryMs: 1000,
      clock,
      probe: () => {
        probes++;
        return probeOk ? Promise.resolve('PONG') : Promise.reject(new Error('connection refused'));
      },
    });
    store.onStateChange((change) => changes.push(change));
    return store;
  };

  beforeEach(() => {
    vi.useFakeTimers();
    primary = new FakePrimary();
    fallback = new MemoryBucketStore();
    probeOk = false;
    probes = 0;
    changes = [];
  });
  afterEach(() => vi.useRealTimers());

  it('uses the primary while it answers', async () => {
    const store = make();
    expect((await store.take('k', 60, 2, 0)).ok).toBe(true);
    expect(primary.calls).toBe(1);
    expect(fallback.size).toBe(0);
    expect(store.state).toBe('up');
  });

  it('fail-open: a failed take is answered by the fallback, later ones skip the primary, one change is reported', async () => {
    const store = make('open');
    primary.failing = new Error('Command timed out');
    expect(await store.take('k', 60, 2, 0)).toMatchObject({ ok: true, remaining: 1 });
    expect(store.state).toBe('down');
    expect(await store.take('k', 60, 2, 0)).toMatchObject({ ok: true, remaining: 0 });
    expect((await store.take('k', 60, 2, 0)).ok).toBe(false);
    expect(primary.calls).toBe(1);
    expect(changes).toEqual([{ state: 'down', reason: 'Command timed out', at: 1000 }]);
  });

  it('fail-closed: refuses with BucketStoreUnavailableError while down', async () => {
    const store = make('closed');
    primary.failing = new Error('ECONNREFUSED');
    await expect(store.take('k', 60, 2, 0)).rejects.toBeInstanceOf(BucketStoreUnavailableError);
    expect(() => store.take('k', 60, 2, 0)).toThrow(/ECONNREFUSED/);
    expect(fallback.size).toBe(0);
  });

  it('answers takeAll from the fallback too, and refuses it fail-closed', async () => {
    const takes = [
      { key: 'ip:a', ratePerMinute: 60, burst: 1 },
      { key: 'tenant:t', ratePerMinute: 60, burst: 5 },
    ];
    const open = make('open');
    expect((await open.takeAll(takes, 0)).map((r) => r.ok)).toEqual([true, true]);
    primary.failing = new Error('Connection is closed.');
    expect((await open.takeAll(takes, 0)).map((r) => r.ok)).toEqual([true, true]);
    expect((await open.takeAll(takes, 0)).map((r) => r.ok)).toEqual([false]);
    expect(open.state).toBe('down');
    const closed = make('closed');
    await expect(closed.takeAll(takes, 0)).rejects.toBeInstanceOf(BucketStoreUnavailableError);
    expect(() => closed.takeAll(takes, 0)).toThrow(BucketStoreUnavailableError);
  });

  it('probes every interval while down and returns to the primary on the first success', async () => {
    const store = make();
    store.markDown('connection closed');
    await vi.advanceTimersByTimeAsync(3000);
    expect(probes).toBe(3);
    expect(store.state).toBe('down');
    probeOk = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.state).toBe('up');
    expect(changes.map((c) => c.state)).toEqual(['down', 'up']);
    await vi.advanceTimersByTimeAsync(5000);
    expect(probes).toBe(4);
    await store.take('k', 60, 2, 0);
    expect(primary.calls).toBe(1);
  });

  it('probeNow brings the primary back without waiting for the interval', async () => {
    const store = make();
    store.markDown('connection closed');
    probeOk = true;
    store.probeNow();
    await vi.advanceTimersByTimeAsync(0);
    expect(store.state).toBe('up');
  });

  it('starts down when asked to, and reports nothing after close', async () => {
    const store = new FailoverBucketStore(primary, fallback, {
      initialState: 'down',
      probe: () => Promise.resolve(),
    });
    expect(store.state).toBe('down');
    expect((await store.take('k', 60, 1, 0)).ok).toBe(true);
    expect(primary.calls).toBe(0);
    store.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(store.state).toBe('down');
  });

  it('rejects nonsensical options', () => {
    const probe = () => Promise.resolve();
    expect(() => new FailoverBucketStore(primary, fallback, { probe, probeEveryMs: 0 })).toThrow(/probeEveryMs/);
    expect(() => new FailoverBucketStore(primary, fallback, { probe, mode: 'maybe' as 'open' })).toThrow(/mode/);
  });
});

describe(RefusalCache.name, () => {
  const refused = (retryAfterMs: number, resetMs = 60_000): BucketResult => ({
    ok: false,
    remaining: 0,
    resetMs,
    retryAfterMs,
  });

  it('stands until exactly the Retry-After of the refusal, as the bucket would answer', () => {
    const cache = new RefusalCache();
    cache.remember('ip:a', 60, refused(400, 5000), 1000);
    expect(cache.check('ip:a', 60, 1000)).toEqual(refused(400, 5000));
    expect(cache.check('ip:a', 60, 1399)).toEqual(refused(1, 4601));
    expect(cache.check('ip:a', 60, 1400)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('is dropped when the wall clock steps back past it, so the bucket answers again', () => {
    const cache = new RefusalCache();
    cache.remember('ip:a', 60, refused(400, 5000), 3_600_000);
    expect(cache.check('ip:a', 60, 3_600_100)).toEqual(refused(300, 4900));
    // One hour back: the refusal would otherwise stand for an hour and 300 ms.
    expect(cache.check('ip:a', 60, 100)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('agrees with the bucket: no take passes while a remembered refusal stands, one passes when it ends', () => {
    const store = new MemoryBucketStore();
    const cache = new RefusalCache();
    let t = 0;
    drain(store, 'k', 120, 4, t, 4);
    const result = store.take('k', 120, 4, t);
    cache.remember('k', 120, result, t);
    for (t = 1; cache.check('k', 120, t) !== undefined; t++) expect(store.take('k', 120, 4, t).ok).toBe(false);
    expect(t).toBe(500);
    expect(store.take('k', 120, 4, t).ok).toBe(true);
  });

  it('ignores passing takes, forgets a refusal made at another rate, and stays bounded', () => {
    const cache = new RefusalCache({ maxKeys: 2 });
    cache.remember('a', 60, { ok: true, remaining: 3, resetMs: 1, retryAfterMs: 0 }, 0);
    expect(cache.size).toBe(0);
    cache.remember('a', 60, refused(1000), 0);
    expect(cache.check('a', 50, 1)).toBeUndefined();
    cache.remember('a', 60, refused(1000), 0);
    cache.remember('b', 60, refused(1000), 0);
    cache.remember('c', 60, refused(1000), 0);
    expect(cache.size).toBe(2);
    expect(cache.check('a', 60, 1)).toBeUndefined();
    expect(cache.check('c', 60, 1)).toBeDefined();
    expect(() => new RefusalCache({ maxKeys: 0 })).toThrow(/maxKeys/);
    cache.clear();
    expect(cache.check('c', 60, 1)).toBeUndefined();
  });
});
