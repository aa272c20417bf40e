import { describe, expect, it } from 'vitest';
import type { AlgoName } from './algo';
import { Backend } from './backend';
import { Pool, type PoolOptions } from './pool';
import { FakeClock } from './testing/fake-clock';
import { mulberry32 } from './testing/mulberry32';
import { tally } from './testing/tally';

function setup(n: number, opts: PoolOptions = {}, weights: number[] = []) {
  const clock = new FakeClock();
  const backends = Array.from(
    { length: n },
    (_, i) =>
      new Backend(`http://b${i}:80`, weights[i] ?? 1, { clock, breaker: { failureThreshold: 1, openForMs: 1_000 } }),
  );
  const pool = new Pool('api', backends, { clock, random: mulberry32(42), ...opts });
  return { clock, backends, pool };
}

/** Picks `n` times, releasing each pick at once; returns the picked backends. */
function pickMany(pool: Pool, n: number, algo?: AlgoName): Backend[] {
  const picked: Backend[] = [];
  for (let i = 0; i < n; i++) {
    const r = pool.pick({ key: `k${i}` }, algo)!;
    r.backend.release();
    picked.push(r.backend);
  }
  return picked;
}

describe(Pool.name, () => {
  it('defaults to ewma and acquires the picked backend', () => {
    const { pool, backends } = setup(3);
    expect(pool.algo).toBe('ewma');
    const r = pool.pick({})!;
    expect(r.algo).toBe('ewma');
    expect(r.healthy).toBe(true);
    expect(r.backend.inflight).toBe(1);
    expect(backends.reduce((s, b) => s + b.inflight, 0)).toBe(1);
  });

  it('uses the per-call algorithm over the default one', () => {
    const { pool } = setup(3, { algo: 'p2c' });
    expect(pool.pick({}, 'round_robin')!.algo).toBe('round_robin');
    expect(pool.pick({})!.algo).toBe('p2c');
  });

  it('keeps round-robin state across picks and updates', () => {
    const { pool } = setup(3, { algo: 'round_robin' }, [5, 1, 1]);
    const seq = () =>
      pickMany(pool, 7)
        .map((b) => b.url.slice(8, 9))
        .join('');
    expect(seq()).toBe('0010200');
    pool.update([{ url: 'http://b0:80', weight: 5 }, { url: 'http://b1:80' }, { url: 'http://b2:80' }]);
    expect(seq()).toBe('0010200');
  });

  it('skips backends whose breaker is open, and unhealthy ones', () => {
    const { pool, backends, clock } = setup(4);
    backends[1].breaker.failure(clock.now());
    backends[3].healthy = false;
    const counts = tally(backends, pickMany(pool, 1_000, 'round_robin'));
    expect(counts).toEqual([500, 0, 500, 0]);
    expect(pool.healthyCount()).toBe(2);
  });

  it('hands a half-open breaker exactly one trial, then waits for its outcome', () => {
    const { pool, backends, clock } = setup(2, { algo: 'round_robin' });
    const flaky = backends[0];
    flaky.breaker.failure(clock.now());
    clock.advance(1_000);
    const picks = pickMany(pool, 10);
    expect(picks.filter((b) => b === flaky)).toHaveLength(1);
    expect(flaky.breaker.state).toEqual({ kind: 'half_open', trialInFlight: true, openForMs: 1_000 });
    flaky.breaker.success();
    expect(tally(backends, pickMany(pool, 10))).toEqual([5, 5]);
  });

  it('with reserve: false neither acquires the backend nor spends a half-open trial', () => {
    const { pool, backends, clock } = setup(2, { algo: 'round_robin' });
    const flaky = backends[0];
    flaky.breaker.failure(clock.now());
    clock.advance(1_000);
    for (let i = 0; i < 10; i++) pool.pick({ reserve: false });
    expect(backends.map((b) => b.inflight)).toEqual([0, 0]);
    // Untouched: the trial is still there for the first request that really goes to the backend.
    expect(flaky.breaker.stateName).toBe('open');
    expect(flaky.breaker.allow(clock.now())).toBe(true);
    expect(flaky.breaker.state).toEqual({ kind: 'half_open', trialInFlight: true, openForMs: 1_000 });
  });

  it('never picks an excluded backend (a retry elsewhere)', () => {
    const { pool, backends } = setup(3);
    const picks = new Set<Backend>();
    for (let i = 0; i < 100; i++) picks.add(pool.pick({ exclude: [backends[0]], reserve: false })!.backend);
    expect(picks.has(backends[0])).toBe(false);
    expect(picks.size).toBe(2);
  });

  it('enters panic mode under the threshold: balances over all and reports healthy=false', () => {
    const { pool, backends } = setup(4, { algo: 'round_robin' });
    backends[0].healthy = false;
    backends[1].healthy = false; // 2 of 4 eligible = 0.5: not under 0.5
    expect(tally(backends, pickMany(pool, 100))).toEqual([0, 0, 50, 50]);
    expect(pool.pick({})!.healthy).toBe(true);

    backends[2].healthy = false; // 1 of 4
    const results = Array.from({ length: 100 }, () => pool.pick({})!);
    expect(results.every((r) => !r.healthy)).toBe(true);
    expect(
      tally(
        backends,
        results.map((r) => r.backend),
      ).every((n) => n > 0),
    ).toBe(true);
  });

  it('panics when nothing is eligible, or returns undefined with panic mode off', () => {
    const { pool, backends } = setup(2);
    for (const b of backends) b.healthy = false;
    expect(pool.pick({})).toMatchObject({ healthy: false });
    const off = new Pool('off', backends, { panicThreshold: 0 });
    expect(off.pick({})).toBeUndefined();
  });

  it('returns undefined for an empty pool', () => {
    const pool = new Pool('empty', []);
    expect(pool.pick({})).toBeUndefined();
    expect(pool.healthyCount()).toBe(0);
    expect(pool.toJSON()).toEqual({ algo: 'ewma', healthy: 0, total: 0, backends: [] });
  });

  it('update() keeps Backend objects of remaining URLs, adds new ones and drops removed ones', () => {
    const { pool, backends, clock } = setup(3);
    const [b0, , b2] = backends;
    b0.observe(123);
    b0.acquire();
    b2.healthy = false;
    const before = pool.backends;
    pool.update([{ url: 'http://b2:80', weight: 4 }, { url: 'http://new:80' }, { url: 'http://b0:80' }], 'least_conn');
    expect(pool.backends.map((b) => b.url)).toEqual(['http://b2:80', 'http://new:80', 'http://b0:80']);
    expect(pool.backends[0]).toBe(b2);
    expect(pool.backends[2]).toBe(b0);
    expect(b2.weight).toBe(4);
    expect(b2.healthy).toBe(false);
    expect(b0.ewmaMs(clock.now())).toBe(123);
    expect(b0.inflight).toBe(1);
    expect(pool.backends[1].weight).toBe(1);
    expect(pool.backends[1].ewmaMs()).toBe(50);
    expect(pool.algo).toBe('least_conn');
    expect(before).toHaveLength(3); // the old array is not mutated
  });

  it('update() is all-or-nothing on bad input', () => {
    const { pool } = setup(2);
    const before = pool.backends;
    expect(() => pool.update([{ url: 'http://b0:80' }, { url: 'http://b0:80' }])).toThrow(
      'pool api: duplicate backend url http://b0:80',
    );
    expect(() => pool.update([{ url: 'http://b0:80', weight: 0 }, { url: 'http://x:80' }])).toThrow(
      /http:\/\/b0:80.*got 0/,
    );
    expect(() => pool.update([{ url: 'http://x:80', weight: -2 }])).toThrow(/http:\/\/x:80.*got -2/);
    expect(() => pool.update([{ url: 'http://x:80' }], 'fastest' as AlgoName)).toThrow(
      /unknown balancing algorithm "fastest"/,
    );
    expect(pool.backends).toBe(before);
    expect(pool.backends.map((b) => b.weight)).toEqual([1, 1]);
    expect(pool.algo).toBe('ewma');
  });

  it('rejects duplicate URLs, unknown algorithms and bad options in the constructor', () => {
    const a = new Backend('http://a:80');
    expect(() => new Pool('api', [a, new Backend('http://a:80')])).toThrow(
      'pool api: duplicate backend url http://a:80',
    );
    expect(() => new Pool('api', [], { algo: 'magic' as AlgoName })).toThrow(
      'pool api: unknown balancing algorithm "magic"',
    );
    expect(() => new Pool('api', [], { panicThreshold: 1.5 })).toThrow(
      'pool api: panicThreshold must be a number in [0, 1], got 1.5',
    );
    expect(() => new Pool('api', [], { connPenalty: -1 })).toThrow(/connPenalty .* got -1/);
    expect(() => new Pool('api', [], { breaker: { openForMs: 0 } })).toThrow(/openForMs .* got 0/);
    const pool = new Pool('api', [a]);
    expect(() => (pool.algo = 'nope' as AlgoName)).toThrow(/"nope"/);
    expect(() => pool.pick({}, 'nope' as AlgoName)).toThrow(/"nope"/);
  });

  it('serialises to the /health pool shape, also through JSON.stringify', () => {
    const { pool, backends, clock } = setup(2);
    backends[1].breaker.failure(clock.now());
    const expected = {
      algo: 'ewma',
      healthy: 1,
      total: 2,
      backends: [
        {
          url: 'http://b0:80',
          healthy: true,
          ewma_ms: 50,
          inflight: 0,
          cb_state: 'closed',
          weight: 1,
          last_error: null,
        },
        { url: 'http://b1:80', healthy: true, ewma_ms: 50, inflight: 0, cb_state: 'open', weight: 1, last_error: null },
      ],
    };
    expect(pool.toJSON()).toEqual(expected);
    expect(JSON.parse(JSON.stringify({ pools: { api: pool } }))).toEqual({ pools: { api: expected } });
  });

  it('hashes the context key with rendezvous', () => {
    const { pool } = setup(5, { algo: 'rendezvous' });
    const first = pool.pick({ key: '198.51.100.4' })!.backend;
    for (let i = 0; i < 100; i++) expect(pool.pick({ key: '198.51.100.4' })!.backend).toBe(first);
  });
});
