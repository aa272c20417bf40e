import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge } from 'prom-client';
import { CounterChildren } from '../metrics/fast-children';
import { METRIC } from '../metrics/metric-names';

/** The rate limits' instruments: refusals by bucket scope, and whether the buckets are in Redis. */
@Injectable()
export class RateLimitMetrics {
  private readonly refusals: CounterChildren;

  constructor(
    @InjectMetric(METRIC.rateLimitDenied) rateLimitDenied: Counter<string>,
    @InjectMetric(METRIC.rateLimitRedisUp) private readonly rateLimitRedisUp: Gauge<string>,
  ) {
    this.refusals = new CounterChildren(rateLimitDenied);
  }

  /** A request refused by the bucket of `scope` (ip, tenant). */
  rateLimited(scope: string): void {
    (this.refusals.get(scope) ?? this.refusals.add(scope, { scope })).inc();
  }

  /** Whether rate limits are kept in Redis (1) or fall back (0). */
  redisUp(up: boolean): void {
    this.rateLimitRedisUp.set(up ? 1 : 0);
  }
}

/** The rate limits' instruments, registered by their module. */
export const RATE_LIMIT_METRIC_PROVIDERS = [
  makeCounterProvider({
    name: METRIC.rateLimitDenied,
    help: 'Requests refused by a token bucket',
    labelNames: ['scope'],
  }),
  makeGaugeProvider({
    name: METRIC.rateLimitRedisUp,
    help: '1 while rate limits are kept in Redis, 0 while they fall back (or Redis is not configured)',
  }),
];
