import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
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
    @InjectMetric(METRIC.policyShadow) readonly shadow: Counter<string>,
    @InjectMetric(METRIC.policyShadowShed) readonly shadowShed: Counter<string>,
  ) {
    this.errors = { error: error.labels('error'), slow: error.labels('slow') };
  }

  evalError(kind: 'error' | 'slow'): void {
    this.errors[kind].inc();
  }
}

/** The policy instruments, registered by the module that owns them. */
export const POLICY_METRIC_PROVIDERS = [
  makeCounterProvider({ name: METRIC.opaCacheHit, help: 'Policy decisions served from the decision cache' }),
  makeCounterProvider({ name: METRIC.opaCacheMiss, help: 'Policy decisions computed (cache miss)' }),
  makeCounterProvider({ name: METRIC.policyReload, help: 'Policy reloads by result', labelNames: ['result'] }),
  makeGaugeProvider({ name: METRIC.policyVersion, help: 'Version of the running policy (+1 per successful reload)' }),
  makeCounterProvider({
    name: METRIC.policyDisagreement,
    help: 'Shadow mode: OPA and base rules answered different actions',
  }),
  makeCounterProvider({
    name: METRIC.policyError,
    help: 'OPA evaluations that failed (error) or ran over budget (slow)',
    labelNames: ['kind'],
  }),
  makeCounterProvider({
    name: METRIC.policyShadow,
    help: 'Candidate policy (ORCH_SHADOW_POLICY_PATH) evaluations by the active and the candidate action',
    labelNames: ['active', 'shadow'],
  }),
  makeCounterProvider({
    name: METRIC.policyShadowShed,
    help: 'Requests not evaluated by the candidate policy because its queue was full',
  }),
];
