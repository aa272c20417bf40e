import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge } from 'prom-client';
import { METRIC } from '../metrics/metric-names';

/** The policy's instruments. */
@Injectable()
export class PolicyMetrics {
  private readonly errors: Record<'error' | 'slow', ReturnType<Counter<string>['labels']>>;

  constructor(
    @InjectMetric(METRIC.opaCacheHit) readonly cacheHit: Counter<string>,
    @InjectMetric(METRIC.opaCacheMiss) readonly cacheMiss: Counter<string>,
    @InjectMetric(METRIC.policyReload) readonly reload: Counter<string>,
    @InjectMetric(METRIC.policyVersion) readonly version: Gauge<string>,
    @InjectMetric(METRIC.policyDisagreement) readonly disagreement: Counter<string>,
    @InjectMetric(METRIC.policyError) error: Counter<string>,
  ) {
    this.errors = { error: error.labels('error'), slow: error.labels('slow') };
  }

  evalError(kind: 'error' | 'slow'): void {
    this.errors[kind].inc();
  }
}
