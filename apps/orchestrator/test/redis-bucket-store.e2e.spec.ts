import { MemoryBucketStore, RedisBucketStore } from '@shieldx/security';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRedis, type RunningRedis } from './redis-harness';

/**
 * The Lua token bucket against a real redis-server. Redis reads its own clock (`TIME`), so time cannot be faked;
 * instead rates are chosen so refill during a test is negligible, or a bucket's stored timestamp is moved back to
 * stand for elapsed time.
 */
describe(`${RedisBucketStore.name} against redis-server`, () => {
  let redis: RunningRedis;
  let a: Redis;
  let b: Redis;
  let storeA: RedisBucketStore;
  let storeB: RedisBucketStore;
  let n = 0;
  let key: string;

  const client = (url: string) => new Redis(url, { commandTimeout: 2000, maxRetriesPerRequest: 0 });

  /** Server time in µs. */
  const serverMicros = async (): Promise<number> => {
    const [s, us] = await a.time();
    return Number(s) * 1_000_000 + Number(us);
  };

  beforeAll(async () => {
    redis = await startRedis();
    a = client(redis.url);
    b = client(redis.url);
    storeA = new RedisBucketStore(a);
    storeB = new RedisBucketStore(b);
  });
  afterAll(async () => {
    a?.disconnect();
    b?.disconnect();
    await redis?.stop();
  });
  beforeEach(() => {
    key = `test:${++n}`;
  });

  it('admits exactly the burst out of concurrent takes from two clients, atomically', async () => {
    const takes = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? storeA : storeB).take(key, 1, 150));
    const results = await Promise.all(takes);
    expect(results.filter((r) => r.ok)).toHaveLength(150);
    // Every whole-token count from 149 down to 0 was handed out exactly once.
    const remaining = results.filter((r) => r.ok).map((r) => r.remaining);
    expect(new Set(remaining).size).toBe(150);
  });

  it('takeAll takes several buckets in one atomic script, stopping at the first refusal', async () => {
    const ip = `${key}:ip`;
    const tenant = `${key}:tenant`;
    const both = [
      { key: ip, ratePerMinute: 1, burst: 100 },
      { key: tenant, ratePerMinute: 1, burst: 1000 },
    ];
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? storeA : storeB).takeAll(both)),
    );
    expect(results.filter((r) => r.length === 2 && r[0].ok && r[1].ok)).toHaveLength(100);
    expect(results.filter((r) => r.length === 1 && !r[0].ok)).toHaveLength(200);
    // The tenant gave exactly one token per admitted IP take, none for the refused ones.
    expect(await storeA.take(tenant, 1, 1000)).toMatchObject({ ok: true, remaining: 899 });
    // An empty second bucket: the first one's token is taken, as with two separate takes.
    const tight = [
      { key: `${key}:ip2`, ratePerMinute: 1, burst: 5 },
      { key: `${key}:t2`, ratePerMinute: 1, burst: 1 },
    ];
    expect((await storeA.takeAll(tight)).map((r) => r.ok)).toEqual([true, true]);
    expect((await storeA.takeAll(tight)).map((r) => [r.ok, r.remaining])).toEqual([
      [true, 3],
      [false, 0],
    ]);
  });

  it('answers like MemoryBucketStore for the same sequence', async () => {
    const memory = new MemoryBucketStore();
    for (let i = 0; i < 8; i++) {
      const fromRedis = await storeA.take(key, 1, 5);
      const fromMemory = memory.take(key, 1, 5, 0);
      expect(fromRedis.ok).toBe(fromMemory.ok);
      expect(fromRedis.remaining).toBe(fromMemory.remaining);
      // At one token a minute, a few ms of real time move these by at most a few ms.
      expect(Math.abs(fromRedis.resetMs - fromMemory.resetMs)).toBeLessThan(1000);
      expect(Math.abs(fromRedis.retryAfterMs - fromMemory.retryAfterMs)).toBeLessThan(1000);
    }
    expect(await storeA.take(key, 1, 5)).toMatchObject({ ok: false, remaining: 0 });
  });

  it('refills from elapsed server time: one token a second, not before the second is over', async () => {
    const full = `shieldx:rl:${key}`;
    await storeA.take(key, 60, 3);
    // An empty bucket last touched 990 ms ago holds 0.99 tokens (plus the few µs until the script runs).
    await a.hset(full, 't', '0', 'u', String((await serverMicros()) - 990_000));
    const early = await storeA.take(key, 60, 3);
    expect(early.ok).toBe(false);
    expect(early.retryAfterMs).toBeGreaterThan(0);
    expect(early.retryAfterMs).toBeLessThanOrEqual(10);
    // Touched 2.5 s ago: 2.5 tokens; two pass, 0.5 is kept.
    await a.hset(full, 't', '0', 'u', String((await serverMicros()) - 2_500_000));
    expect(await storeA.take(key, 60, 3)).toMatchObject({ ok: true, remaining: 1 });
    expect(await storeA.take(key, 60, 3)).toMatchObject({ ok: true, remaining: 0 });
    const refused = await storeA.take(key, 60, 3);
    expect(refused.ok).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(490);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(500);
    expect(Number(await a.hget(full, 't'))).toBeCloseTo(0.5, 2);
  });

  it('never refills beyond the burst', async () => {
    await storeA.take(key, 60, 4);
    await a.hset(`shieldx:rl:${key}`, 't', '0', 'u', String((await serverMicros()) - 86_400_000_000));
    expect(await storeA.take(key, 60, 4)).toMatchObject({ ok: true, remaining: 3 });
  });

  it('lets idle buckets expire once they would be full again, under the shieldx:rl: namespace', async () => {
    await storeA.take(key, 60, 5);
    const ttl = await a.pttl(`shieldx:rl:${key}`);
    // One token missing at one a second: full in 1 s, plus a second of margin.
    expect(ttl).toBeGreaterThan(1500);
    expect(ttl).toBeLessThanOrEqual(2000);
    expect(await a.exists(`shieldx:rl:${key}`)).toBe(1);
    expect(await a.exists(key)).toBe(0);
  });

  it('keeps microsecond timestamps exact in the hash', async () => {
    const before = await serverMicros();
    await storeA.take(key, 60, 5);
    const stored = await a.hget(`shieldx:rl:${key}`, 'u');
    expect(stored).toMatch(/^\d{16}$/);
    expect(Number(stored)).toBeGreaterThanOrEqual(before);
  });

  it('uses the server clock, whatever `now` the caller passes', async () => {
    await storeA.take(key, 60, 2, 0);
    await storeB.take(key, 60, 2, Date.now() + 3_600_000);
    expect((await storeA.take(key, 60, 2, Date.now() - 3_600_000)).ok).toBe(false);
  });
});
