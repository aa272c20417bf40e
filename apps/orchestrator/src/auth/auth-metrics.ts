import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';
import { CounterChildren } from '../metrics/fast-children';
import { METRIC } from '../metrics/metric-names';

/** The caller proofs' instruments: refusals by scheme and code, failures of the shared replay store. */
@Injectable()
export class AuthMetrics {
  private readonly failures: CounterChildren;

  constructor(
    @InjectMetric(METRIC.authFailed) authFailed: Counter<string>,
    @InjectMetric(METRIC.replayStoreErrors) private readonly replayStoreErrors: Counter<string>,
  ) {
    this.failures = new CounterChildren(authFailed);
  }

  /** A caller proof refused: `scheme` is `admission` or `dpop`, `code` the 401's error code. */
  authFailed(scheme: string, code: string): void {
    const key = `${scheme}\u0000${code}`;
    (this.failures.get(key) ?? this.failures.add(key, { scheme, code })).inc();
  }

  /** A check of the shared replay store failed (error or timeout). */
  replayStoreError(): void {
    this.replayStoreErrors.inc();
  }
}

/** The caller proofs' instruments, registered by their module. */
export const AUTH_METRIC_PROVIDERS = [
  makeCounterProvider({
    name: METRIC.authFailed,
    help: 'Caller proofs refused (scheme: admission or dpop; code: the error code of the 401)',
    labelNames: ['scheme', 'code'],
  }),
  makeCounterProvider({
    name: METRIC.replayStoreErrors,
    help: 'Failed or timed-out checks of the shared (Redis) replay store',
  }),
];
