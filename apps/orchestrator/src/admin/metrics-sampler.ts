import { POLICY_ACTIONS, type PolicyAction } from '@shieldx/policy';
import { register, type Metric } from 'prom-client';
import { METRIC } from '../metrics/metric-names';

/** Cumulative counters read at one instant; the sampler turns two readings into rates. */
export interface CounterReading {
  /** Epoch ms of the reading. */
  readonly at: number;
  /** Data-plane requests answered (`/route`, `/proxy/*`), any status. */
  readonly requests: number;
  /** Requests refused by policy, rate limit or caller proof (`orchestrator_route_denied_total`). */
  readonly denials: number;
  /** Cumulative data-plane request counts per histogram upper bound in seconds (`+Inf` as Infinity), ascending. */
  readonly buckets: readonly Bucket[];
  /** Policy decisions served from the decision cache / computed, since boot. */
  readonly cacheHits: number;
  readonly cacheMisses: number;
  /** Share of healthy backends over every pool at the instant of the reading. */
  readonly healthyRatio: number;
  /** Policy decisions since boot, per action. */
  readonly decisions: Readonly<Record<PolicyAction, number>>;
}

/** One cumulative histogram bucket: requests that took at most `le` seconds. */
export interface Bucket {
  readonly le: number;
  readonly count: number;
}

/** The figures of the admin overview over one interval (normally one second). */
export interface MetricsSample {
  /** Epoch ms at the end of the interval. */
  readonly ts: number;
  /** Data-plane requests per second over the interval. */
  readonly requestsPerSec: number;
  /** Denials per second over the interval. */
  readonly denialsPerSec: number;
  /** 99th percentile of data-plane latency over the interval, ms; null when no request ended in it. */
  readonly p99Ms: number | null;
  /** Share of policy decisions answered from the cache over the interval; null when there were none. */
  readonly cacheHitRate: number | null;
  /** Share of healthy backends, 0–1. */
  readonly healthyRatio: number;
  /** Policy decisions per second over the interval, per action. */
  readonly decisionsPerSec: Readonly<Record<PolicyAction, number>>;
}

/**
 * The `q` quantile (0–1) of a cumulative histogram, interpolating linearly inside the bucket where it falls, as
 * Prometheus' `histogram_quantile` does (the first bucket starts at 0). A quantile in the `+Inf` bucket answers the
 * largest finite bound. Null when the histogram is empty.
 */
export function quantileFromBuckets(q: number, buckets: readonly Bucket[]): number | null {
  if (buckets.length === 0) return null;
  const total = buckets[buckets.length - 1].count;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return lowerBound;
      const inBucket = bucket.count - lowerCount;
      if (inBucket <= 0) return bucket.le;
      return lowerBound + (bucket.le - lowerBound) * ((rank - lowerCount) / inBucket);
    }
    lowerBound = bucket.le;
    lowerCount = bucket.count;
  }
  return lowerBound;
}

/** Per-bucket difference `after − before` (the requests that ended between two readings). */
export function bucketDelta(after: readonly Bucket[], before: readonly Bucket[]): Bucket[] {
  const earlier = new Map(before.map((b) => [b.le, b.count]));
  return after.map((b) => ({ le: b.le, count: Math.max(0, b.count - (earlier.get(b.le) ?? 0)) }));
}

/** Turns the previous and the current reading into the interval's sample. */
export function sampleBetween(before: CounterReading, after: CounterReading): MetricsSample {
  const seconds = Math.max(0.001, (after.at - before.at) / 1000);
  const rate = (a: number, b: number) => Math.max(0, a - b) / seconds;
  const p99 = quantileFromBuckets(0.99, bucketDelta(after.buckets, before.buckets));
  const hits = Math.max(0, after.cacheHits - before.cacheHits);
  const lookups = hits + Math.max(0, after.cacheMisses - before.cacheMisses);
  const decisionsPerSec = {} as Record<PolicyAction, number>;
  for (const action of POLICY_ACTIONS) {
    decisionsPerSec[action] = round(rate(after.decisions[action], before.decisions[action]));
  }
  return {
    ts: after.at,
    requestsPerSec: round(rate(after.requests, before.requests)),
    denialsPerSec: round(rate(after.denials, before.denials)),
    p99Ms: p99 === null ? null : round(p99 * 1000),
    cacheHitRate: lookups === 0 ? null : round(hits / lookups),
    healthyRatio: round(after.healthyRatio),
    decisionsPerSec,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** True for the route templates of the data plane (the same rule as the per-IP limit in the gateway hooks). */
function isDataPlane(route: unknown): boolean {
  return route === '/route' || (typeof route === 'string' && route.startsWith('/proxy/'));
}

/** Reads what the sampler needs from the process's Prometheus registry (where `/metrics` reads too). */
export async function readRegistry(): Promise<Pick<CounterReading, 'requests' | 'denials' | 'buckets'>> {
  const histogram = await values(register.getSingleMetric(METRIC.httpDuration));
  const denied = await values(register.getSingleMetric(METRIC.routeDenied));
  const byBound = new Map<number, number>();
  let requests = 0;
  for (const value of histogram) {
    if (!isDataPlane(value.labels.route)) continue;
    if (value.metricName?.endsWith('_bucket') === true) {
      const le = value.labels.le === '+Inf' ? Infinity : Number(value.labels.le);
      byBound.set(le, (byBound.get(le) ?? 0) + value.value);
    } else if (value.metricName?.endsWith('_count') === true) {
      requests += value.value;
    }
  }
  const buckets = [...byBound].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  const denials = denied.reduce((sum, value) => sum + value.value, 0);
  return { requests, denials, buckets };
}

type MetricValue = { value: number; labels: Record<string, string | number>; metricName?: string };

async function values(metric: Metric | undefined): Promise<MetricValue[]> {
  if (metric === undefined) return [];
  const data = (await metric.get()) as { values: MetricValue[] };
  return data.values;
}
