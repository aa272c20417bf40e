import { Injectable } from '@nestjs/common';
import type { BreakerStateName } from '@shieldx/lb';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Histogram } from 'prom-client';
import { METRIC } from './metric-names';

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
