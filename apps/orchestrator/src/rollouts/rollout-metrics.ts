import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge } from 'prom-client';
import { CounterChildren } from '../metrics/fast-children';
import { METRIC } from '../metrics/metric-names';

/** The rollouts' instruments: canary share per pool, outcomes per side, transitions. */
@Injectable()
export class RolloutMetrics {
  private readonly requests: CounterChildren;

  constructor(
    @InjectMetric(METRIC.rolloutStep) private readonly step: Gauge<string>,
    @InjectMetric(METRIC.rolloutRequests) requests: Counter<string>,
    @InjectMetric(METRIC.rolloutTransitions) private readonly transitions: Counter<string>,
  ) {
    this.requests = new CounterChildren(requests);
  }

  /** The canary's share of `pool` in percent now. */
  percent(pool: string, percent: number): void {
    this.step.set({ pool }, percent);
  }

  /** One proxied attempt of `pool` on `side` (`preview`: a judged copy), `outcome` `ok` or `error`. */
  request(pool: string, side: string, outcome: 'ok' | 'error'): void {
    const key = `${pool}\u0000${side}\u0000${outcome}`;
    (this.requests.get(key) ?? this.requests.add(key, { pool, side, outcome })).inc();
  }

  /** A transition of `pool`'s rollout to `to` (a state, or `advanced`). */
  transition(pool: string, to: string): void {
    this.transitions.inc({ pool, to });
  }
}

/** The rollouts' instruments, registered by their module. */
export const ROLLOUT_METRIC_PROVIDERS = [
  makeGaugeProvider({
    name: METRIC.rolloutStep,
    help: "Canary share of a pool's traffic in percent (0 after a rollback, 100 once promoted)",
    labelNames: ['pool'],
  }),
  makeCounterProvider({
    name: METRIC.rolloutRequests,
    help: 'Proxied attempts of pools under rollout by side (stable, canary; preview: copies judged) and outcome (ok, error)',
    labelNames: ['pool', 'side', 'outcome'],
  }),
  makeCounterProvider({
    name: METRIC.rolloutTransitions,
    help: 'Rollout transitions by what they led to (previewed, advanced, paused, running, promoted, rolled_back, aborted)',
    labelNames: ['pool', 'to'],
  }),
];
