import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge } from 'prom-client';
import { CounterChildren } from '../metrics/fast-children';
import { METRIC } from '../metrics/metric-names';

/** The routing decision's instruments: backend picks (and their locality tiers), and requests held in the tarpit. */
@Injectable()
export class RoutingMetrics {
  private readonly picks: CounterChildren;
  private readonly localityPicks: CounterChildren;

  constructor(
    @InjectMetric(METRIC.lbPick) lbPick: Counter<string>,
    @InjectMetric(METRIC.tarpitActive) private readonly tarpitActive: Gauge<string>,
    @InjectMetric(METRIC.localityPicks) localityPicks: Counter<string>,
  ) {
    this.picks = new CounterChildren(lbPick);
    this.localityPicks = new CounterChildren(localityPicks);
  }

  /** A backend picked in `pool` by `algo`, from the healthy set or not (panic mode). */
  picked(pool: string, algo: string, healthy: boolean): void {
    const key = `${pool}\u0000${algo}\u0000${healthy ? '1' : '0'}`;
    (this.picks.get(key) ?? this.picks.add(key, { pool, algo, healthy: healthy ? 'true' : 'false' })).inc();
  }

  /** A backend picked in `pool` from locality tier `tier` (`zone`, `region` or `any`); only for locality-aware picks. */
  localityPicked(pool: string, tier: string): void {
    const key = `${pool}\u0000${tier}`;
    (this.localityPicks.get(key) ?? this.localityPicks.add(key, { pool, tier })).inc();
  }

  /** Requests held in the tarpit now. */
  tarpitHeld(count: number): void {
    this.tarpitActive.set(count);
  }
}

/** The routing decision's instruments, registered by its module. */
export const ROUTING_METRIC_PROVIDERS = [
  makeCounterProvider({ name: METRIC.lbPick, help: 'Backend picks', labelNames: ['pool', 'algo', 'healthy'] }),
  makeGaugeProvider({ name: METRIC.tarpitActive, help: 'Requests held in the tarpit now' }),
  makeCounterProvider({
    name: METRIC.localityPicks,
    help: 'Locality-aware backend picks by the tier they were served from (zone, region, any)',
    labelNames: ['pool', 'tier'],
  }),
];
