import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastCounterChild, FastHistogramChild } from './fast-children';

/** Two registries with the same metric: one fed through prom-client's calls, one through the fast children. */
function twins<M>(make: (registry: Registry) => M): { theirs: M; ours: M; text: () => Promise<[string, string]> } {
  const a = new Registry();
  const b = new Registry();
  const theirs = make(a);
  const ours = make(b);
  return { theirs, ours, text: async () => [await a.metrics(), await b.metrics()] };
}

describe('fast metric children', () => {
  it('a counter child counts exactly what labels().inc() counts, per label set, across a registry reset', async () => {
    const { theirs, ours, text } = twins(
      (registry) =>
        new Counter({ name: 'picks_total', help: 'h', labelNames: ['pool', 'algo'], registers: [registry] }),
    );
    const labelSets = [
      { pool: 'api', algo: 'ewma' },
      { pool: 'api', algo: 'p2c' },
      { pool: 'search', algo: 'ewma' },
    ];
    const children = labelSets.map((labels) => new FastCounterChild(ours, labels));
    for (let i = 0; i < 1000; i++) {
      const k = i % 7 === 0 ? 2 : i % 2;
      theirs.labels(labelSets[k]).inc();
      children[k].inc();
    }
    const [expected, actual] = await text();
    expect(actual).toBe(expected);
    expect(actual).toContain('picks_total{pool="api",algo="ewma"} 428');

    // A reset replaces prom-client's records: the children must start over, not count into the dropped ones.
    theirs.reset();
    ours.reset();
    theirs.labels(labelSets[0]).inc();
    children[0].inc();
    const [afterTheirs, afterOurs] = await text();
    expect(afterOurs).toBe(afterTheirs);
    expect(afterOurs).toContain('picks_total{pool="api",algo="ewma"} 1');
  });

  it('two children of the same label values share one record', async () => {
    const { ours, text } = twins(
      (registry) => new Counter({ name: 'routed_total', help: 'h', labelNames: ['action'], registers: [registry] }),
    );
    const one = new FastCounterChild(ours, { action: 'allow' });
    const two = new FastCounterChild(ours, { action: 'allow' });
    for (let i = 0; i < 10; i++) (i % 2 === 0 ? one : two).inc();
    const [, actual] = await text();
    expect(actual).toContain('routed_total{action="allow"} 10');
  });

  it('a histogram child buckets, sums and counts exactly as observe() does, edges and overflow included', async () => {
    const buckets = [0.001, 0.005, 0.025, 0.1, 0.5];
    const { theirs, ours, text } = twins(
      (registry) =>
        new Histogram({
          name: 'duration_seconds',
          help: 'h',
          labelNames: ['method', 'route', 'status'],
          buckets,
          registers: [registry],
        }),
    );
    const labelSets = [
      { method: 'POST', route: '/route', status: '200' },
      { method: 'GET', route: '/proxy/:service/*', status: '502' },
    ];
    const children = labelSets.map((labels) => new FastHistogramChild(ours, labels));
    const values = [0, 0.001, 0.0010001, 0.005, 0.02, 0.025, 0.1, 0.3, 0.5, 0.7, 12, 0.00042];
    for (let i = 0; i < 600; i++) {
      const value = values[i % values.length] * (1 + (i % 5) / 1e9);
      theirs.labels(labelSets[i % 2]).observe(value);
      children[i % 2].observe(value);
    }
    const [expected, actual] = await text();
    expect(actual).toBe(expected);
    expect(actual).toContain('duration_seconds_count{method="POST",route="/route",status="200"} 300');
  });

  it('a histogram child refuses what observe() refuses', () => {
    const histogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['x'], registers: [] });
    const child = new FastHistogramChild(histogram, { x: 'a' });
    child.observe(1);
    expect(() => child.observe(Number.NaN)).toThrow(TypeError);
  });
});
