import { describe, expect, it } from 'vitest';
import { Backend } from './backend';
import {
  isLocalityToken,
  OVERPROVISIONING_FACTOR,
  planLocality,
  planTiers,
  spillLoads,
  tierOf,
  type Locality,
} from './locality';
import { Pool, type PoolOptions } from './pool';
import { FakeClock } from './testing/fake-clock';
import { mulberry32 } from './testing/mulberry32';

function loads(eligible: number[], total: number[]): number[] {
  const out = new Float64Array(eligible.length);
  spillLoads(eligible, total, out);
  return [...out];
}

/** Backends `url → [zone, region]` on one fake clock, with a breaker that opens on the first failure. */
function located(clock: FakeClock, places: [string, string | undefined, string | undefined][]): Backend[] {
  return places.map(([url, zone, region]) => {
    const b = new Backend(url, 1, { clock, breaker: { failureThreshold: 1, openForMs: 1_000 } });
    b.setPlace({ zone, region });
    return b;
  });
}

/** Picks `n` times (releasing each) and counts the tiers and URLs served. */
function run(pool: Pool, n: number, region?: string, keyed = false) {
  const tiers: Record<string, number> = {};
  const urls: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = pool.pick({ key: keyed ? `k${i}` : undefined, region })!;
    r.backend.release();
    tiers[r.locality ?? 'none'] = (tiers[r.locality ?? 'none'] ?? 0) + 1;
    urls[r.backend.url] = (urls[r.backend.url] ?? 0) + 1;
  }
  return { tiers, urls };
}

describe(spillLoads.name, () => {
  it('keeps all traffic on a tier at least 1/1.4 healthy, and spills (1 − 1.4·h) below that', () => {
    expect(loads([2, 0, 2], [2, 0, 2])).toEqual([1, 0, 0]);
    expect(loads([3, 0, 4], [4, 0, 4])).toEqual([1, 0, 0]); // 0.75 × 1.4 = 1.05
    const half = loads([1, 0, 2], [2, 0, 2]);
    expect(half[0]).toBeCloseTo(0.7, 12);
    expect(half[2]).toBeCloseTo(0.3, 12);
    expect(loads([0, 0, 2], [2, 0, 2])).toEqual([0, 0, 1]);
  });

  it('spills to the region before anywhere, and normalises when the tiers together are short', () => {
    const spilled = loads([1, 1, 4], [4, 2, 4]); // scores 0.35, 0.7, 1
    expect(spilled[0]).toBeCloseTo(0.35, 12);
    expect(spilled[1]).toBeCloseTo(0.65, 12);
    expect(spilled[2]).toBe(0);
    const short = loads([1, 0, 1], [4, 0, 4]); // scores 0.35 and 0.35: half each
    expect(short[0]).toBeCloseTo(0.5, 12);
    expect(short[2]).toBeCloseTo(0.5, 12);
    expect(loads([0, 0, 0], [2, 1, 3])).toEqual([0, 0, 0]);
  });

  it('for any health of the local tier: loads sum to 1, and the spilled share is max(0, 1 − 1.4·h)', () => {
    const random = mulberry32(7);
    for (let round = 0; round < 2_000; round++) {
      const total = [1 + Math.floor(random() * 20), Math.floor(random() * 5), 1 + Math.floor(random() * 20)];
      const eligible = total.map((t) => Math.floor(random() * (t + 1)));
      eligible[2] = total[2]; // the last tier fully healthy, as in the brief's examples
      const out = loads(eligible, total);
      expect(out.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      for (const share of out) expect(share).toBeGreaterThanOrEqual(0);
      const h = eligible[0] / total[0];
      expect(out[0]).toBeCloseTo(Math.min(1, OVERPROVISIONING_FACTOR * h), 9);
      expect(1 - out[0]).toBeCloseTo(Math.max(0, 1 - OVERPROVISIONING_FACTOR * h), 9);
    }
  });

  it('never gives load to a tier with nothing eligible, and is monotonic in the local health', () => {
    const random = mulberry32(11);
    for (let round = 0; round < 1_000; round++) {
      const total = [1 + Math.floor(random() * 10), 1 + Math.floor(random() * 10), 1 + Math.floor(random() * 10)];
      const eligible = total.map((t) => Math.floor(random() * (t + 1)));
      const out = loads(eligible, total);
      for (let t = 0; t < 3; t++) if (eligible[t] === 0) expect(out[t]).toBe(0);
      if (eligible[0] < total[0]) {
        const more = loads([eligible[0] + 1, eligible[1], eligible[2]], total);
        expect(more[0]).toBeGreaterThanOrEqual(out[0] - 1e-12);
      }
    }
  });
});

describe(planTiers.name, () => {
  it('ranks same zone, then same region, then anywhere; zone match wins over region', () => {
    const origin: Locality = { zone: 'eu-1a', region: 'eu-1' };
    expect(tierOf({ zone: 'eu-1a', region: 'eu-1' }, origin)).toBe(0);
    expect(tierOf({ zone: 'eu-1b', region: 'eu-1' }, origin)).toBe(1);
    expect(tierOf({ region: 'eu-1' }, origin)).toBe(1);
    expect(tierOf({ zone: 'us-1a', region: 'us-1' }, origin)).toBe(2);
    expect(tierOf({}, origin)).toBe(2);
    expect(tierOf({ zone: 'eu-1a' }, { region: 'eu-1' })).toBe(2);
    const clock = new FakeClock();
    const plan = planTiers(
      located(clock, [
        ['http://a', 'eu-1a', 'eu-1'],
        ['http://b', 'eu-1b', 'eu-1'],
        ['http://c', undefined, 'us-1'],
        ['http://d', undefined, undefined],
      ]),
      origin,
    );
    expect([...plan.ranks]).toEqual([0, 1, 2, 2]);
    expect([...plan.totals]).toEqual([1, 1, 2]);
  });

  it('plans nothing when no backend is located, or when neither the gateway nor clients have a place', () => {
    const clock = new FakeClock();
    const plain = located(clock, [['http://a', undefined, undefined]]);
    expect(planLocality(plain, { zone: 'eu-1a' }, true)).toBeUndefined();
    const placed = located(clock, [['http://a', 'eu-1a', 'eu-1']]);
    expect(planLocality(placed, {}, false)).toBeUndefined();
    expect(planLocality(placed, {}, true)?.local).toBeUndefined();
    expect([...(planLocality(placed, {}, true)?.byRegion.keys() ?? [])]).toEqual(['eu-1']);
    // A client in the gateway's region also prefers the gateway's zone.
    const plans = planLocality(placed, { zone: 'eu-1a', region: 'eu-1' }, true);
    expect([...(plans?.byRegion.get('eu-1')?.ranks ?? [])]).toEqual([0]);
  });

  it('accepts lowercase DNS labels only as zone and region names', () => {
    for (const good of ['eu-1a', 'a', '0', 'us-east-1', 'x'.repeat(63)]) expect(isLocalityToken(good), good).toBe(true);
    for (const bad of ['', 'EU-1', '-eu', 'eu-', 'eu_1', 'eu 1', 'x'.repeat(64), 'é', 1, null]) {
      expect(isLocalityToken(bad), String(bad)).toBe(false);
    }
  });
});

describe(`${Pool.name} with locality`, () => {
  const PLACES: [string, string | undefined, string | undefined][] = [
    ['http://local-1', 'eu-1a', 'eu-1'],
    ['http://local-2', 'eu-1a', 'eu-1'],
    ['http://remote-1', 'us-1a', 'us-1'],
    ['http://remote-2', 'us-1a', 'us-1'],
  ];
  function setup(opts: PoolOptions = {}) {
    const clock = new FakeClock();
    const backends = located(clock, PLACES);
    const pool = new Pool('api', backends, {
      clock,
      random: mulberry32(3),
      locality: { zone: 'eu-1a', region: 'eu-1' },
      ...opts,
    });
    return { clock, backends, pool };
  }

  it('sends every pick to the local zone while it is healthy, for every algorithm', () => {
    for (const algo of ['round_robin', 'least_conn', 'ewma', 'p2c', 'rendezvous'] as const) {
      const { pool } = setup({ algo });
      const { tiers, urls } = run(pool, 1_000, undefined, true);
      expect(tiers, algo).toEqual({ zone: 1_000 });
      expect((urls['http://local-1'] ?? 0) + (urls['http://local-2'] ?? 0), algo).toBe(1_000);
    }
  });

  it('spills ~30 % at half local health, and fails over entirely when the zone is down', () => {
    const { pool, backends } = setup({ algo: 'round_robin' });
    backends[0].healthy = false;
    const half = run(pool, 10_000).tiers;
    expect(half.zone / 10_000).toBeCloseTo(0.7, 1);
    expect(half.any / 10_000).toBeCloseTo(0.3, 1);
    backends[1].healthy = false;
    expect(run(pool, 100).tiers).toEqual({ any: 100 });
  });

  it('keeps the pool-wide panic mode: under the threshold every backend is a candidate and the tier is any', () => {
    const { pool, backends } = setup({ algo: 'round_robin', panicThreshold: 0.8 });
    backends[0].healthy = false;
    const r = pool.pick({})!;
    expect(r).toMatchObject({ healthy: false, locality: 'any' });
  });

  it('treats excluded backends (a retry) as ineligible in the tiers', () => {
    const { pool, backends } = setup({ algo: 'round_robin' });
    const r = pool.pick({ exclude: [backends[0], backends[1]] })!;
    expect(r.locality).toBe('any');
    expect(r.backend.url).toMatch(/remote/);
  });

  it('prefers the client region over the gateway place when the backends name it', () => {
    const { pool } = setup({ algo: 'round_robin', clientRegions: true });
    expect(run(pool, 50, 'us-1')).toEqual({
      tiers: { region: 50 },
      urls: { 'http://remote-1': 25, 'http://remote-2': 25 },
    });
    expect(run(pool, 10, 'ap-9').tiers).toEqual({ zone: 10 }); // a region no backend names: the gateway's place
  });

  it('keeps a rendezvous key on its tier while the loads hold', () => {
    const { pool, backends } = setup({ algo: 'rendezvous' });
    backends[0].healthy = false;
    const first = Array.from({ length: 200 }, (_, i) => pool.pick({ key: `k${i}`, reserve: false })!.backend.url);
    const again = Array.from({ length: 200 }, (_, i) => pool.pick({ key: `k${i}`, reserve: false })!.backend.url);
    expect(again).toEqual(first);
    const spilled = first.filter((url) => url.includes('remote')).length / 200;
    expect(spilled).toBeGreaterThan(0.2);
    expect(spilled).toBeLessThan(0.4);
  });

  it('recomputes the tiers on update, and behaves as before without places', () => {
    const { pool } = setup({ algo: 'round_robin' });
    pool.update(PLACES.map(([url]) => ({ url })));
    expect(pool.localityAware).toBe(false);
    expect(pool.pick({})!.locality).toBeUndefined();
    pool.update([{ url: 'http://remote-1', zone: 'eu-1a' }, { url: 'http://local-1' }]);
    expect(pool.localityAware).toBe(true);
    expect(run(pool, 10)).toEqual({ tiers: { zone: 10 }, urls: { 'http://remote-1': 10 } });
    expect(() => pool.update([{ url: 'http://x', zone: 'EU' }])).toThrow(/zone must be a lowercase label/);
    expect(() => pool.update([{ url: 'http://x', cost: -1 }])).toThrow(/cost must be a finite number >= 0/);
    expect(pool.backends.map((b) => b.url)).toEqual(['http://remote-1', 'http://local-1']);
  });

  it('shows zone, region and cost in the backend JSON only when set', () => {
    const { pool } = setup();
    pool.update([{ url: 'http://a', zone: 'eu-1a', region: 'eu-1', cost: 0.4 }, { url: 'http://b' }]);
    const [a, b] = pool.toJSON(0).backends;
    expect(a).toMatchObject({ zone: 'eu-1a', region: 'eu-1', cost: 0.4 });
    expect(Object.keys(b)).not.toContain('zone');
    expect(() => new Pool('x', [], { locality: { zone: 'Bad Zone' } })).toThrow(/pool x: locality zone/);
  });
});
