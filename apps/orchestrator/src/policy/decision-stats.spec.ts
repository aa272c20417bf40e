import type { PolicyInput } from '@shieldx/policy';
import { describe, expect, it } from 'vitest';
import { DecisionStats, TopK } from './decision-stats';

describe(TopK.name, () => {
  it('counts exactly while the keys fit', () => {
    const top = new TopK(3);
    for (const key of ['a', 'b', 'a', 'c', 'a', 'b']) top.add(key);
    expect(top.top(2)).toEqual([
      { key: 'a', count: 3, error: 0 },
      { key: 'b', count: 2, error: 0 },
    ]);
  });

  it('keeps a frequent key through a flood of distinct ones, in bounded memory', () => {
    const top = new TopK(10);
    for (let i = 0; i < 1000; i++) {
      top.add('hot');
      top.add(`noise-${i}`);
    }
    const [first] = top.top(1);
    expect(first).toMatchObject({ key: 'hot' });
    expect(first.count - first.error).toBeLessThanOrEqual(1000);
    expect(first.count).toBeGreaterThanOrEqual(1000);
    expect(top.top(100)).toHaveLength(10);
  });
});

describe(DecisionStats.name, () => {
  it('counts decisions per action and the tenants and paths of denials', () => {
    const stats = new DecisionStats();
    const input = (tenant: string, path: string) => ({ tenant, path }) as PolicyInput;
    stats.record(input('acme', '/a'), { action: 'allow' });
    stats.record(input('evil', '/admin'), { action: 'deny' });
    stats.record(input('evil', '/admin'), { action: 'deny' });
    stats.record(input('slow', '/x'), { action: 'tarpit' });
    expect(stats.totals()).toEqual({ allow: 1, deny: 2, divert: 0, tarpit: 1 });
    expect(stats.topDenied(5)).toEqual({
      tenants: [{ key: 'evil', count: 2, error: 0 }],
      paths: [{ key: '/admin', count: 2, error: 0 }],
    });
  });
});
