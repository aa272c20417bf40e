import { Injectable } from '@nestjs/common';
import type { BreakerStateName } from '@shieldx/lb';
import { InjectMetric, makeCounterProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Histogram } from 'prom-client';
import { METRIC } from '../metrics/metric-names';

/** Health probe and circuit breaker instruments. */
@Injectable()
export class ResilienceMetrics {
  private readonly probeOk: ReturnType<Histogram<string>['labels']>;
  private readonly probeBad: ReturnType<Histogram<string>['labels']>;

  constructor(
    @InjectMetric(METRIC.healthOk) private readonly ok: Counter<string>,
    @InjectMetric(METRIC.healthBad) private readonly bad: Counter<string>,
    @InjectMetric(METRIC.healthProbe) probe: Histogram<string>,
    @InjectMetric(METRIC.cbOpen) private readonly cbOpen: Counter<string>,
    @InjectMetric(METRIC.cbHalfOpen) private readonly cbHalfOpen: Counter<string>,
    @InjectMetric(METRIC.cbClose) private readonly cbClose: Counter<string>,
  ) {
    this.probeOk = probe.labels('ok');
    this.probeBad = probe.labels('bad');
  }

  /** One probe of `seconds`, good or bad. */
  probed(healthy: boolean, seconds: number): void {
    (healthy ? this.ok : this.bad).inc();
    (healthy ? this.probeOk : this.probeBad).observe(seconds);
  }

  /** One breaker transition into `to`. */
  transition(to: BreakerStateName): void {
    switch (to) {
      case 'open':
        this.cbOpen.inc();
        return;
      case 'half_open':
        this.cbHalfOpen.inc();
        return;
      case 'closed':
        this.cbClose.inc();
        return;
      default: {
        const never: never = to;
        throw new Error(`unknown breaker state ${String(never)}`);
      }
    }
  }
}

/** The health probe and breaker instruments, registered by the module that owns them. */
export const RESILIENCE_METRIC_PROVIDERS = [
  makeCounterProvider({ name: METRIC.healthOk, help: 'Health probes that succeeded' }),
  makeCounterProvider({ name: METRIC.healthBad, help: 'Health probes that failed (status, timeout, connection)' }),
  makeHistogramProvider({
    name: METRIC.healthProbe,
    help: 'Health probe duration',
    labelNames: ['result'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  }),
  makeCounterProvider({ name: METRIC.cbOpen, help: 'Circuit breakers that opened' }),
  makeCounterProvider({ name: METRIC.cbHalfOpen, help: 'Circuit breakers that went half-open' }),
  makeCounterProvider({ name: METRIC.cbClose, help: 'Circuit breakers that closed' }),
];
