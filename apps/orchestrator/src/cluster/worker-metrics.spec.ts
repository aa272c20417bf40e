import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { formatWorkerMetrics, type JsonMetric } from './worker-metrics';

async function registryOf(worker: number): Promise<JsonMetric[]> {
  const registry = new Registry();
  const counter = new Counter({
    name: 'x_total',
    help: 'a "count"\nof things',
    labelNames: ['code'],
    registers: [registry],
  });
  counter.labels('a\\b"c').inc(worker);
  new Gauge({ name: 'x_version', help: 'version', registers: [registry] }).set(3);
  const histogram = new Histogram({ name: 'x_seconds', help: 'time', buckets: [0.1], registers: [registry] });
  histogram.observe(0.08 * worker);
  const metrics: JsonMetric[] = await registry.getMetricsAsJSON();
  return metrics;
}

describe(formatWorkerMetrics.name, () => {
  it('labels every sample with its worker and writes each family once, in the text format', async () => {
    const text = formatWorkerMetrics([
      { worker: 2, metrics: await registryOf(2) },
      { worker: 1, metrics: await registryOf(1) },
    ]);
    expect(text).toBe(
      [
        '# HELP x_total a "count"\\nof things',
        '# TYPE x_total counter',
        'x_total{code="a\\\\b\\"c",worker="1"} 1',
        'x_total{code="a\\\\b\\"c",worker="2"} 2',
        '# HELP x_version version',
        '# TYPE x_version gauge',
        'x_version{worker="1"} 3',
        'x_version{worker="2"} 3',
        '# HELP x_seconds time',
        '# TYPE x_seconds histogram',
        'x_seconds_bucket{le="0.1",worker="1"} 1',
        'x_seconds_bucket{le="+Inf",worker="1"} 1',
        'x_seconds_sum{worker="1"} 0.08',
        'x_seconds_count{worker="1"} 1',
        'x_seconds_bucket{le="0.1",worker="2"} 0',
        'x_seconds_bucket{le="+Inf",worker="2"} 1',
        'x_seconds_sum{worker="2"} 0.16',
        'x_seconds_count{worker="2"} 1',
        '',
      ].join('\n'),
    );
  });
});
