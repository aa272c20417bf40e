import { describe, expect, it } from 'vitest';
import { bucketDelta, quantileFromBuckets, sampleBetween, type Bucket, type CounterReading } from './metrics-sampler';

const bounds = [0.001, 0.01, 0.1, 1, Infinity];
const cumulative = (counts: number[]): Bucket[] => bounds.map((le, i) => ({ le, count: counts[i] }));

describe(quantileFromBuckets.name, () => {
  it('interpolates inside the bucket where the rank falls, like histogram_quantile', () => {
    // 100 requests: 50 under 1 ms, 40 in (1, 10] ms, 10 in (10, 100] ms.
    const buckets = cumulative([50, 90, 100, 100, 100]);
    expect(quantileFromBuckets(0.5, buckets)).toBeCloseTo(0.001);
    expect(quantileFromBuckets(0.7, buckets)).toBeCloseTo(0.001 + 0.009 * 0.5);
    expect(quantileFromBuckets(0.99, buckets)).toBeCloseTo(0.01 + 0.09 * 0.9);
  });

  it('answers the largest finite bound in the +Inf bucket, and null for an empty histogram', () => {
    expect(quantileFromBuckets(0.99, cumulative([0, 0, 0, 1, 10]))).toBe(1);
    expect(quantileFromBuckets(0.99, cumulative([0, 0, 0, 0, 0]))).toBeNull();
    expect(quantileFromBuckets(0.99, [])).toBeNull();
  });
});

describe(sampleBetween.name, () => {
  const reading = (over: Partial<CounterReading>): CounterReading => ({
    at: 0,
    requests: 0,
    denials: 0,
    buckets: cumulative([0, 0, 0, 0, 0]),
    cacheHits: 0,
    cacheMisses: 0,
    healthyRatio: 1,
    decisions: { allow: 0, deny: 0, divert: 0, tarpit: 0 },
    ...over,
  });

  it('turns two readings into per-second rates, the interval p99 and the cache hit rate', () => {
    const before = reading({
      at: 10_000,
      requests: 1000,
      denials: 10,
      decisions: { allow: 900, deny: 10, divert: 0, tarpit: 2 },
      buckets: cumulative([500, 900, 1000, 1000, 1000]),
    });
    const after = reading({
      at: 12_000,
      requests: 1200,
      denials: 14,
      // The 200 new requests all took between 0.1 s and 1 s.
      buckets: cumulative([500, 900, 1000, 1200, 1200]),
      cacheHits: 30,
      cacheMisses: 10,
      healthyRatio: 2 / 3,
      decisions: { allow: 1090, deny: 14, divert: 3, tarpit: 2 },
    });
    const sample = sampleBetween(before, after);
    expect(sample).toEqual({
      ts: 12_000,
      requestsPerSec: 100,
      denialsPerSec: 2,
      p99Ms: expect.closeTo(100 + 900 * 0.99, 1),
      cacheHitRate: 0.75,
      healthyRatio: 0.667,
      decisionsPerSec: { allow: 95, deny: 2, divert: 1.5, tarpit: 0 },
    });
    expect(bucketDelta(after.buckets, before.buckets).map((b) => b.count)).toEqual([0, 0, 0, 200, 200]);
  });

  it('gives null p99 and hit rate for an idle interval, and never negative rates (counters of another app)', () => {
    const sample = sampleBetween(reading({ at: 0, requests: 50 }), reading({ at: 1000, requests: 40 }));
    expect(sample).toMatchObject({ requestsPerSec: 0, p99Ms: null, cacheHitRate: null });
  });
});
