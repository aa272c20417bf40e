import { Injectable } from '@nestjs/common';
import { InjectMetric, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import type { Gauge } from 'prom-client';
import { METRIC } from '../metrics/metric-names';

/** The TLS instruments: seconds left on the serving certificate. */
@Injectable()
export class TlsMetrics {
  constructor(@InjectMetric(METRIC.certExpiry) private readonly certExpiry: Gauge<string>) {}

  /**
   * Publishes the seconds left on the serving certificate, read afresh at every scrape; `undefined` (no TLS) leaves
   * the gauge without a sample rather than a misleading 0.
   */
  certExpiryFrom(read: () => number | undefined): void {
    const gauge = this.certExpiry;
    // prom-client calls a metric's `collect` before each scrape. It is set here, not in the provider, so the reader is
    // this app's even when the metric already exists in the process-wide registry (several apps in one test run).
    Object.assign(gauge, {
      collect: () => {
        const seconds = read();
        if (seconds === undefined) gauge.remove();
        else gauge.set(Math.floor(seconds));
      },
    });
    gauge.remove();
  }
}

/** The TLS instruments, registered by their module. */
export const TLS_METRIC_PROVIDERS = [
  makeGaugeProvider({
    name: METRIC.certExpiry,
    help: 'Seconds until the serving TLS certificate expires (negative once expired; no sample without TLS)',
  }),
];
