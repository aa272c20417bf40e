import { Inject, Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import { AdaptiveLimits, type AdaptiveEvent, type AdaptiveKeyInfo } from '@shieldx/security';
import type { Counter, Gauge } from 'prom-client';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { SecurityEvents } from '../events/security-events';
import { METRIC } from '../metrics/metric-names';

/** Rates and factors in events are rounded to this many decimals (the ledger keeps what is shown). */
const DECIMALS = 1000;

/**
 * Adaptive rate limiting (ORCH_ADAPTIVE): every data-plane request of a client IP (`ip:<clientKey>`) and of a tenant
 * (`tenant:<name>`) is observed by an online model of that key's usual rate (`AdaptiveLimits`, libs/security); a key
 * whose short-window rate is far above its own baseline and its peers' is tightened — its bucket's rate and size are
 * multiplied by ORCH_ADAPTIVE_TIGHTEN_FACTOR — and climbs back to its full limit over ORCH_ADAPTIVE_RECOVERY once its
 * rate is normal again. Each change is a `ratelimit.adaptive` security event and counted. `shadow` records without
 * changing any limit. The model is per process (docs/rate-limiting.md#adaptive-limits).
 */
@Injectable()
export class AdaptiveProtection {
  readonly mode: OrchestratorConfig['adaptive']['mode'];
  private readonly model: AdaptiveLimits | undefined;
  private readonly enforce: boolean;

  constructor(
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
    events: SecurityEvents,
    @InjectMetric(METRIC.adaptiveChanges) changes: Counter<string>,
    @InjectMetric(METRIC.adaptiveTightened) tightened: Gauge<string>,
  ) {
    const { mode, sensitivity, minLearningMs, tightenFactor, recoveryMs } = config.adaptive;
    this.mode = mode;
    this.enforce = mode === 'enforce';
    if (mode === 'off') return;
    const model = new AdaptiveLimits({ sensitivity, minLearningMs, tightenFactor, recoveryMs });
    this.model = model;
    model.onEvent((event: AdaptiveEvent) => {
      const scope = event.key.startsWith('tenant:') ? 'tenant' : 'ip';
      changes.labels(event.kind, scope, mode).inc();
      tightened.labels(scope).set(model.tightenedNow(event.at).filter((k) => k.key.startsWith(`${scope}:`)).length);
      events.emit({
        type: 'ratelimit.adaptive',
        data: {
          change: event.kind,
          key: event.key,
          mode,
          baselineRate: round(event.baselineRate),
          currentRate: round(event.currentRate),
          thresholdRate: round(event.thresholdRate),
          factor: round(event.factor),
          ...(event.cause === undefined ? {} : { cause: event.cause }),
        },
      });
    });
  }

  /**
   * Observes one request of `key` at `now` (epoch ms) and returns the factor for its limit: the model's when
   * enforcing, else 1.
   */
  factor(key: string, now: number): number {
    const model = this.model;
    if (model === undefined) return 1;
    const factor = model.observe(key, now);
    return this.enforce ? factor : 1;
  }

  /**
   * Gives `key` its full limit back at once and makes the model learn it afresh (an operator's decision, e.g. after a
   * legitimate lasting jump of its rate). False when the key was not tightened or recovering.
   */
  release(key: string, now: number): boolean {
    return this.model?.release(key, now) ?? false;
  }

  /** The keys tightened or recovering now, with their baseline and current rate (for the admin API). */
  tightenedNow(now: number): AdaptiveKeyInfo[] {
    return this.model?.tightenedNow(now) ?? [];
  }
}

function round(value: number): number {
  return Math.round(value * DECIMALS) / DECIMALS;
}

/** The adaptive limits' instruments, registered by the rate-limit module. */
export const ADAPTIVE_METRIC_PROVIDERS = [
  makeCounterProvider({
    name: METRIC.adaptiveChanges,
    help: 'Adaptive limit changes: keys tightened, recovering, relaxed (ORCH_ADAPTIVE)',
    labelNames: ['change', 'scope', 'mode'],
  }),
  makeGaugeProvider({
    name: METRIC.adaptiveTightened,
    help: 'Keys tightened or recovering now',
    labelNames: ['scope'],
  }),
];
