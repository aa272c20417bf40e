import { describe, expect, it } from 'vitest';
import { encodePool, parsePool } from './pool-sync.codec';

const GOOD = {
  pool: 'api',
  v: 7,
  origin: 'gw-0:42',
  at: '2025-01-01T00:00:00.000Z',
  def: {
    algo: 'p2c',
    backends: [
      { url: 'http://127.0.0.1:9001', weight: 2, zone: 'eu-1a', region: 'eu-1', cost: 0.4 },
      { url: 'http://127.0.0.1:9002', weight: 1 },
    ],
  },
};

describe(parsePool.name, () => {
  it('round-trips a message, and a hash record whose field names the pool', () => {
    const extra = { ...GOOD, def: { ...GOOD.def, backends: [{ ...GOOD.def.backends[1], owner: 'x' }] } };
    expect(parsePool(JSON.stringify(extra)).def?.backends).toEqual([GOOD.def.backends[1]]);
    expect(parsePool(encodePool(GOOD as never))).toEqual(GOOD);
    const record: Record<string, unknown> = { ...GOOD };
    delete record.pool;
    expect(parsePool(JSON.stringify(record), 'api')).toEqual(GOOD);
    expect(parsePool(JSON.stringify({ ...record, def: null }), 'gone')).toMatchObject({ pool: 'gone', def: null });
  });

  it('refuses what the admin API would refuse, so a bad value in Redis never becomes a pool', () => {
    const bad = (patch: Record<string, unknown>, def: Record<string, unknown> = {}) =>
      JSON.stringify({ ...GOOD, ...patch, def: { ...GOOD.def, ...def } });
    expect(() => parsePool('{')).toThrow('not JSON');
    expect(() => parsePool(bad({ pool: 'API!' }))).toThrow(/bad pool name/);
    expect(() => parsePool(bad({ v: 0 }))).toThrow(/bad version/);
    expect(() => parsePool(bad({ v: 1.5 }))).toThrow(/bad version/);
    expect(() => parsePool(bad({ origin: '' }))).toThrow(/bad origin/);
    expect(() => parsePool(bad({}, { algo: 'random' }))).toThrow(/bad algorithm/);
    expect(() => parsePool(bad({}, { backends: [] }))).toThrow(/bad backend list/);
    expect(() => parsePool(bad({}, { backends: [{ url: 'ftp://x', weight: 1 }] }))).toThrow(/must use http/);
    expect(() => parsePool(bad({}, { backends: [{ url: 'http://127.0.0.1:9/', weight: 1 }] }))).toThrow(
      /bad backend URL/,
    );
    expect(() => parsePool(bad({}, { backends: [{ url: 'http://127.0.0.1:9', weight: 0 }] }))).toThrow(/bad weight/);
    const twice = [
      { url: 'http://127.0.0.1:9', weight: 1 },
      { url: 'http://127.0.0.1:9', weight: 1 },
    ];
    expect(() => parsePool(bad({}, { backends: twice }))).toThrow(/listed twice/);
    const one = (patch: Record<string, unknown>) =>
      bad({}, { backends: [{ url: 'http://127.0.0.1:9', weight: 1, ...patch }] });
    expect(() => parsePool(one({ zone: 'EU' }))).toThrow(/bad zone/);
    expect(() => parsePool(one({ region: '' }))).toThrow(/bad region/);
    expect(() => parsePool(one({ cost: -1 }))).toThrow(/bad cost/);
    expect(() => parsePool(one({ cost: 'cheap' }))).toThrow(/bad cost/);
  });
});
