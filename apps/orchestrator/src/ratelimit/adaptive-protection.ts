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

/** Most keys tightened by other instances held at once; beyond it, further ones are not applied here. */
export const MAX_SHARED_KEYS = 10_000;

/**
 * A key tightened or recovering on one instance, as it is shared with the others (docs/scale-out.md): enough to
 * compute its factor anywhere without the model. Times are epoch ms.
 */
export interface SharedAdaptiveKey {
  readonly key: string;
  /** The instance whose model tightened it. */
  readonly origin: string;
  readonly phase: 'tightened' | 'recovering';
  readonly since: number;
  /** When its recovery started; 0 while tightened. */
  readonly recoveringSince: number;
  readonly tightenFactor: number;
  readonly recoveryMs: number;
  /** Its origin enforces adaptive limits (a `shadow` instance shares what it would do; no one applies it). */
  readonly enforced: boolean;
  readonly baselineRate: number;
  readonly currentRate: number;
  readonly thresholdRate: number;
  /** The origin renews the entry while the key stays tightened; past this time it no longer applies. */
  readonly expiresAt: number;
}

/** A key tightened or recovering, on this instance or another one (`GET /admin/protection`). */
export interface TightenedKey extends AdaptiveKeyInfo {
  /** The instance whose model tightened it. */
  readonly instance: string;
}

/** The factor of a shared key at `now`: the tighten factor, climbing linearly to 1 once it recovers; 1 once expired. */
export function sharedFactor(shared: SharedAdaptiveKey, now: number): number {
  if (now >= shared.expiresAt) return 1;
  if (shared.phase === 'tightened') return shared.tightenFactor;
  const elapsed = Math.max(0, now - shared.recoveringSince);
  if (elapsed >= shared.recoveryMs) return 1;
  return shared.tightenFactor + ((1 - shared.tightenFactor) * elapsed) / shared.recoveryMs;
}

/**
 * Adaptive rate limiting (ORCH_ADAPTIVE): every data-plane request of a client IP (`ip:<clientKey>`) and of a tenant
 * (`tenant:<name>`) is observed by an online model of that key's usual rate (`AdaptiveLimits`, libs/security); a key
 * whose short-window rate is far above its own baseline and its peers' is tightened — its bucket's rate and size are
 * multiplied by ORCH_ADAPTIVE_TIGHTEN_FACTOR — and climbs back to its full limit over ORCH_ADAPTIVE_RECOVERY once its
 * rate is normal again. Each change is a `ratelimit.adaptive` security event and counted. `shadow` records without
 * changing any limit. Each process has its own model; with Redis, the keys one instance tightens are shared with the
 * others (`cluster/adaptive-sync.service.ts`), which apply the lowest factor any instance gives a key.
 */
@Injectable()
export class AdaptiveProtection {
  readonly mode: OrchestratorConfig['adaptive']['mode'];
  private readonly model: AdaptiveLimits | undefined;
  private readonly enforce: boolean;
  private readonly instanceId: string;
  /** Keys tightened by other instances: key → origin → entry. Empty without Redis. */
  private readonly shared = new Map<string, Map<string, SharedAdaptiveKey>>();
  private sharedCount = 0;
  private readonly changeListeners = new Set<(key: string) => void>();
  private readonly releaseListeners = new Set<(key: string) => void>();

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    events: SecurityEvents,
    @InjectMetric(METRIC.adaptiveChanges) changes: Counter<string>,
    @InjectMetric(METRIC.adaptiveTightened) tightened: Gauge<string>,
  ) {
    const { mode, sensitivity, minLearningMs, tightenFactor, recoveryMs } = config.adaptive;
    this.mode = mode;
    this.enforce = mode === 'enforce';
    this.instanceId = config.cluster.instanceId;
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
      for (const listener of this.changeListeners) listener(event.key);
    });
  }

  /** The tighten factor and recovery time every key of this instance's model gets. */
  get settings(): { readonly tightenFactor: number; readonly recoveryMs: number } {
    return this.config.adaptive;
  }

  /**
   * Observes one request of `key` at `now` (epoch ms) and returns the factor for its limit: the model's when
   * enforcing, else 1.
   */
  factor(key: string, now: number): number {
    const model = this.model;
    if (model === undefined) return 1;
    const factor = model.observe(key, now);
    if (!this.enforce) return 1;
    return this.sharedCount === 0 ? factor : Math.min(factor, this.sharedFactorOf(key, now));
  }

  /**
   * Gives `key` its full limit back at once and makes the model learn it afresh (an operator's decision, e.g. after a
   * legitimate lasting jump of its rate). False when the key was not tightened or recovering.
   */
  release(key: string, now: number): boolean {
    const released = this.releaseHere(key, now);
    if (released) for (const listener of this.releaseListeners) listener(key);
    return released;
  }

  /** As {@link release}, asked by another instance: not announced again. */
  releaseHere(key: string, now: number): boolean {
    const local = this.model?.release(key, now) ?? false;
    const shared = this.shared.get(key);
    if (shared === undefined) return local;
    const live = [...shared.values()].some((entry) => sharedFactor(entry, now) < 1);
    this.shared.delete(key);
    this.sharedCount -= shared.size;
    return local || live;
  }

  /** The keys tightened or recovering now, with their baseline and current rate (this instance's model only). */
  tightenedNow(now: number): AdaptiveKeyInfo[] {
    return this.model?.tightenedNow(now) ?? [];
  }

  /** The model of `key` here at `now` (undefined when not modelled or adaptive limits are off). */
  inspect(key: string, now: number): AdaptiveKeyInfo | undefined {
    return this.model?.inspect(key, now);
  }

  /** The keys tightened or recovering now on this instance and, with Redis, on the others (for the admin API). */
  tightenedEverywhere(now: number): TightenedKey[] {
    const list: TightenedKey[] = this.tightenedNow(now).map((info) => ({ ...info, instance: this.instanceId }));
    for (const entries of this.shared.values()) {
      for (const entry of entries.values()) {
        const factor = sharedFactor(entry, now);
        if (factor >= 1) continue;
        list.push({
          key: entry.key,
          instance: entry.origin,
          phase: entry.phase,
          learned: true,
          baselineRate: entry.baselineRate,
          baselineDeviation: 0,
          currentRate: entry.currentRate,
          thresholdRate: entry.thresholdRate,
          factor,
          since: entry.since,
          recoveringSince: entry.recoveringSince,
        });
      }
    }
    return list.sort((a, b) => a.since - b.since);
  }

  /** Calls `listener` with the key whenever this instance's model tightens, recovers or relaxes a key. */
  onChange(listener: (key: string) => void): void {
    this.changeListeners.add(listener);
  }

  /** Calls `listener` with the key when an operator releases it here (to be announced to the other instances). */
  onRelease(listener: (key: string) => void): void {
    this.releaseListeners.add(listener);
  }

  /**
   * Applies a key another instance tightened (or renews it); its factor combines with this instance's own as the
   * lower of the two. False when the table of shared keys is full.
   */
  applyShared(entry: SharedAdaptiveKey): boolean {
    let entries = this.shared.get(entry.key);
    if (entries === undefined) {
      if (this.sharedCount >= MAX_SHARED_KEYS) return false;
      entries = new Map();
      this.shared.set(entry.key, entries);
    } else if (!entries.has(entry.origin) && this.sharedCount >= MAX_SHARED_KEYS) {
      return false;
    }
    if (!entries.has(entry.origin)) this.sharedCount++;
    entries.set(entry.origin, entry);
    return true;
  }

  /** Forgets what `origin` shared about `key` (it relaxed it). */
  dropShared(origin: string, key: string): void {
    const entries = this.shared.get(key);
    if (entries === undefined || !entries.delete(origin)) return;
    this.sharedCount--;
    if (entries.size === 0) this.shared.delete(key);
  }

  /** Replaces every shared key with `entries` (a full read of the shared table); expired ones are left out. */
  replaceShared(entries: Iterable<SharedAdaptiveKey>, now: number): void {
    this.shared.clear();
    this.sharedCount = 0;
    for (const entry of entries) if (entry.expiresAt > now) this.applyShared(entry);
  }

  /** The lowest factor the other instances give `key` at `now` (1 when none); expired entries are dropped. */
  private sharedFactorOf(key: string, now: number): number {
    const entries = this.shared.get(key);
    if (entries === undefined) return 1;
    let factor = 1;
    for (const entry of entries.values()) {
      if (now >= entry.expiresAt) {
        this.dropShared(entry.origin, key);
        continue;
      }
      if (!entry.enforced) continue;
      const own = sharedFactor(entry, now);
      if (own < factor) factor = own;
    }
    return factor;
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
