import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge } from 'prom-client';
import { METRIC } from '../metrics/metric-names';

type Child = ReturnType<Counter<string>['labels']>;

/** What happened to an event offered to the ledger (see `EventGuard`). */
export type LedgerEventOutcome = 'written' | 'aggregated' | 'suppressed';
/** Kinds of ledger problem: the writer failed, an event was lost while it was down, an event could not be encoded. */
export type LedgerErrorKind = 'write' | 'dropped' | 'invalid';

/** The audit ledger's instruments, with their labelled children made once. */
@Injectable()
export class LedgerMetrics {
  private readonly outcomes: Record<LedgerEventOutcome, Child>;
  private readonly errors: Record<LedgerErrorKind, Child>;

  constructor(
    @InjectMetric(METRIC.ledgerEvents) events: Counter<string>,
    @InjectMetric(METRIC.ledgerErrors) errors: Counter<string>,
    @InjectMetric(METRIC.ledgerUp) private readonly up: Gauge<string>,
  ) {
    this.outcomes = {
      written: events.labels('written'),
      aggregated: events.labels('aggregated'),
      suppressed: events.labels('suppressed'),
    };
    this.errors = {
      write: errors.labels('write'),
      dropped: errors.labels('dropped'),
      invalid: errors.labels('invalid'),
    };
  }

  /** Counts `count` events with `outcome`. */
  event(outcome: LedgerEventOutcome, count = 1): void {
    this.outcomes[outcome].inc(count);
  }

  /** Counts one ledger problem of `kind`. */
  error(kind: LedgerErrorKind): void {
    this.errors[kind].inc();
  }

  /** Whether the ledger accepts entries now. */
  setUp(up: boolean): void {
    this.up.set(up ? 1 : 0);
  }
}

/** The audit ledger instruments, registered by the module that owns them. */
export const LEDGER_METRIC_PROVIDERS = [
  makeCounterProvider({
    name: METRIC.ledgerEvents,
    help: 'Security events offered to the audit ledger, by outcome (written, aggregated, suppressed)',
    labelNames: ['outcome'],
  }),
  makeCounterProvider({
    name: METRIC.ledgerErrors,
    help: 'Audit ledger problems: write (the writer failed), dropped (an event lost while it was down), invalid',
    labelNames: ['kind'],
  }),
  makeGaugeProvider({ name: METRIC.ledgerUp, help: '1 while the audit ledger accepts entries, 0 while it is down' }),
];
