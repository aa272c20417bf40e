import { describe, expect, it } from 'vitest';
import { ALGO_NAMES, type AlgoName } from '../algo';
import { Backend } from '../backend';
import { FakeClock } from '../testing/fake-clock';
import { createBalancer } from './create-balancer';

describe(createBalancer.name, () => {
  it('creates a fresh balancer for every algorithm name', () => {
    const clock = new FakeClock();
    const backends = [new Backend('http://a:80', 1, { clock }), new Backend('http://b:80', 1, { clock })];
    for (const algo of ALGO_NAMES) {
      const balancer = createBalancer(algo, { clock, random: () => 0.5 });
      expect(balancer.algo).toBe(algo);
      expect(createBalancer(algo)).not.toBe(balancer);
      expect(balancer.pick([], { key: 'k' })).toBeUndefined();
      expect(balancer.pick([backends[1]], { key: 'k' })).toBe(backends[1]);
      expect(backends).toContain(balancer.pick(backends, { key: 'k' }));
    }
  });

  it('rejects a bad connPenalty and an unknown algorithm, naming them', () => {
    expect(() => createBalancer('p2c', { connPenalty: -1 })).toThrow(
      'connPenalty must be a finite number >= 0, got -1',
    );
    expect(() => createBalancer('ewma', { connPenalty: Number.NaN })).toThrow(/got NaN/);
    expect(() => createBalancer('random' as AlgoName)).toThrow('unknown balancing algorithm "random"');
  });
});
