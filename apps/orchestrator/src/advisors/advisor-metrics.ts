import { Injectable } from '@nestjs/common';
import {
  InjectMetric,
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
} from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { METRIC } from '../metrics/metric-names';
import type { AdvisorFailure, AdvisorName, AdvisorObserver } from './advisor-client';

/** The advisors' instruments: calls by outcome and their latency, breakers, fail-mode decisions, cache and quota. */
@Injectable()
export class AdvisorMetrics implements AdvisorObserver {
  /** The lookup counter's children, made on first use (`labels()` hashes its arguments on every call). */
  private readonly lookups: Partial<Record<'hit' | 'coalesced' | 'miss', Counter.Internal>> = {};

  constructor(
    @InjectMetric(METRIC.advisorCalls) private readonly calls: Counter<string>,
    @InjectMetric(METRIC.advisorCallDuration) private readonly duration: Histogram<string>,
    @InjectMetric(METRIC.advisorFailMode) private readonly failModes: Counter<string>,
    @InjectMetric(METRIC.advisorBreakerOpen) private readonly breakers: Gauge<string>,
    @InjectMetric(METRIC.threatCache) private readonly cache: Counter<string>,
    @InjectMetric(METRIC.quotaChecks) private readonly quota: Counter<string>,
  ) {}

  call(advisor: AdvisorName, outcome: 'ok' | AdvisorFailure, seconds: number | undefined): void {
    this.calls.labels(advisor, outcome).inc();
    if (seconds !== undefined) this.duration.labels(advisor).observe(seconds);
  }

  breaker(advisor: AdvisorName, open: boolean): void {
    this.breakers.labels(advisor).set(open ? 1 : 0);
  }

  /** A request decided by the fail mode because the advisor gave no answer. */
  failMode(advisor: AdvisorName, mode: string): void {
    this.failModes.labels(advisor, mode).inc();
  }

  /** A threat-score lookup: from the cache, joined to a call in flight, or a new call. */
  threatLookup(result: 'hit' | 'coalesced' | 'miss'): void {
    (this.lookups[result] ??= this.cache.labels(result)).inc();
  }

  /** A quota check's verdict. */
  quotaChecked(result: 'allowed' | 'refused'): void {
    this.quota.labels(result).inc();
  }
}

/** The advisors' instruments, registered by their module. */
export const ADVISOR_METRIC_PROVIDERS = [
  makeCounterProvider({
    name: METRIC.advisorCalls,
    help: 'Calls to the external advisors (threat, quota) by outcome',
    labelNames: ['advisor', 'outcome'],
  }),
  makeHistogramProvider({
    name: METRIC.advisorCallDuration,
    help: 'Latency of calls to the external advisors',
    labelNames: ['advisor'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  }),
  makeCounterProvider({
    name: METRIC.advisorFailMode,
    help: 'Requests decided by an advisor fail mode (no answer in time)',
    labelNames: ['advisor', 'mode'],
  }),
  makeGaugeProvider({
    name: METRIC.advisorBreakerOpen,
    help: "1 while an advisor's breaker is open",
    labelNames: ['advisor'],
  }),
  makeCounterProvider({
    name: METRIC.threatCache,
    help: 'Threat-score lookups: hit (cached), coalesced (joined a call in flight), miss (new call)',
    labelNames: ['result'],
  }),
  makeCounterProvider({
    name: METRIC.quotaChecks,
    help: 'Quota checks by verdict',
    labelNames: ['result'],
  }),
];
