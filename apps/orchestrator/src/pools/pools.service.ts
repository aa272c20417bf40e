import { isDeepStrictEqual } from 'node:util';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { LruMap } from '@shieldx/collections';
import {
  Backend,
  Pool,
  type AlgoName,
  type BackendOptions,
  type BackendPlace,
  type BreakerEvent,
  type PoolJSON,
  type PoolOptions,
} from '@shieldx/lb';
import type { OrchestratorConfig, PoolConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { Emitter } from '../events/emitter';

/** Most ad-hoc pools (from `candidates`) kept with their balancing state. */
const AD_HOC_MAX = 1024;

/**
 * The `pool` label of every ad-hoc pool in metrics. Their names are the callers' service names, any number of them:
 * one series each would let callers grow the metrics without bound. Parentheses keep it apart from pool names.
 */
export const AD_HOC_POOL_LABEL = '(candidates)';

/** A backend to put in a pool: its URL, optional weight, and optional zone, region and cost. */
export interface BackendSpec extends BackendPlace {
  readonly url: string;
  readonly weight?: number;
}

/** A pool was created, changed or removed. */
export interface PoolChange {
  readonly kind: 'defined' | 'updated' | 'removed';
  readonly pool: string;
}

/** A backend's breaker changed state. */
export interface BreakerTransition {
  readonly pool: string;
  readonly backend: string;
  readonly event: BreakerEvent;
}

/** `/health` body (docs/http-api.md). */
export interface HealthSnapshot {
  status: 'ok' | 'degraded';
  health_ratio: number;
  pools: Record<string, PoolJSON>;
}

/**
 * The pools of this instance, built from configuration at boot. Each configured pool owns its backends; an ad-hoc
 * pool (from `candidates`) borrows a configured backend with the same URL, so it sees that backend's health,
 * latency and breaker.
 */
@Injectable()
export class PoolsService {
  private readonly pools = new Map<string, Pool>();
  private readonly adHocPools = new LruMap<string, Pool>(AD_HOC_MAX);
  private readonly backendOptions: BackendOptions;
  private readonly poolOptions: PoolOptions;
  private readonly watched = new WeakSet<Backend>();
  private readonly logger = new Logger('pools');
  private readonly changes = new Emitter<PoolChange>((error, change) =>
    this.logger.error({ event: 'pool_change_listener_failed', pool: change.pool, err: error }),
  );
  private readonly transitions = new Emitter<BreakerTransition>((error, transition) =>
    this.logger.error({ event: 'breaker_listener_failed', backend: transition.backend, err: error }),
  );

  constructor(@Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig) {
    this.backendOptions = {
      ewmaDecayMs: config.lb.ewmaDecayMs,
      breaker: { failureThreshold: config.breaker.fails, openForMs: config.breaker.openForMs },
    };
    this.poolOptions = {
      breaker: this.backendOptions.breaker,
      algo: config.lb.algo,
      connPenalty: config.lb.connPenalty,
      costLatencySloMs: config.lb.costLatencySloMs,
      ewmaDecayMs: config.lb.ewmaDecayMs,
      panicThreshold: config.lb.panicThreshold,
      locality: { zone: config.locality.zone, region: config.locality.region },
      clientRegions:
        config.locality.clientRegionHeader !== undefined || config.locality.clientRegionTable !== undefined,
    };
    this.applyConfigured(config.pools, new Map());
  }

  /**
   * Defines the pools of a configuration and removes those of `previous` it no longer has (a configuration reload;
   * at start-up `previous` is empty). Pools defined otherwise (demo, admin API) and not in `previous` are left alone.
   * Returns the names defined and removed.
   */
  applyConfigured(
    pools: ReadonlyMap<string, PoolConfig>,
    previous: ReadonlyMap<string, PoolConfig>,
  ): { defined: string[]; removed: string[] } {
    const defined: string[] = [];
    for (const [name, pool] of pools) {
      if (isDeepStrictEqual(previous.get(name), pool)) continue;
      this.define(
        name,
        pool.urls.map((url) => ({ url, weight: pool.weights.get(url), ...pool.places.get(url) })),
        pool.algo,
      );
      defined.push(name);
    }
    const removed = [...previous.keys()].filter((name) => !pools.has(name) && this.remove(name));
    return { defined, removed };
  }

  /** The pool named `name`, if configured. */
  get(name: string): Pool | undefined {
    return this.pools.get(name);
  }

  /** True when pool `name` exists with exactly the backends `urls`, in any order. */
  hasExactly(name: string, urls: readonly string[]): boolean {
    const pool = this.pools.get(name);
    return (
      pool !== undefined &&
      pool.backends.length === urls.length &&
      pool.backends.every((backend) => urls.includes(backend.url))
    );
  }

  /** The pool's name as a metrics label: its name when configured, {@link AD_HOC_POOL_LABEL} when ad hoc. */
  labelOf(pool: Pool): string {
    return this.pools.get(pool.name) === pool ? pool.name : AD_HOC_POOL_LABEL;
  }

  /** True when a pool of that name exists. */
  has(name: string): boolean {
    return this.pools.has(name);
  }

  /** Names of all pools. */
  names(): string[] {
    return [...this.pools.keys()];
  }

  /** Creates or replaces pool `name`; backends whose URL stays keep their state. */
  define(name: string, backends: readonly BackendSpec[], algo?: AlgoName): Pool {
    const existing = this.pools.get(name);
    let pool: Pool;
    if (existing !== undefined) {
      existing.update(
        backends.map((spec) => ({
          url: spec.url,
          weight: spec.weight,
          zone: spec.zone,
          region: spec.region,
          cost: spec.cost,
        })),
        algo ?? existing.algo,
      );
      pool = existing;
    } else {
      const members = backends.map((spec) => {
        const backend = new Backend(spec.url, spec.weight, this.backendOptions);
        backend.setPlace(spec);
        return backend;
      });
      pool = new Pool(name, members, { ...this.poolOptions, algo: algo ?? this.config.lb.algo });
      this.pools.set(name, pool);
    }
    // Ad-hoc pools borrow configured backends and computed their locality tiers from their places then.
    this.adHocPools.clear();
    this.watch(pool);
    this.changed({ kind: existing === undefined ? 'defined' : 'updated', pool: name });
    return pool;
  }

  /**
   * A pool with this instance's balancing options that is not registered: not routed to by name, not probed, not in
   * `/health` (a rollout's canary set). Its backends are new, so they share no state with pooled ones.
   */
  detached(name: string, urls: readonly string[]): Pool {
    return new Pool(
      name,
      urls.map((url) => new Backend(url, 1, this.backendOptions)),
      this.poolOptions,
    );
  }

  /** Removes pool `name`; false when there was none. */
  remove(name: string): boolean {
    if (!this.pools.delete(name)) return false;
    this.adHocPools.clear();
    this.changed({ kind: 'removed', pool: name });
    return true;
  }

  /** Every backend of every configured pool, once per URL. */
  backends(): Map<string, Backend> {
    const all = new Map<string, Backend>();
    for (const pool of this.pools.values())
      for (const backend of pool.backends) if (!all.has(backend.url)) all.set(backend.url, backend);
    return all;
  }

  /** Calls `listener` after every pool change. Returns an unsubscribe. */
  onChange(listener: (change: PoolChange) => void): () => void {
    return this.changes.on(listener);
  }

  /** Calls `listener` on every breaker transition of a pooled backend. Returns an unsubscribe. */
  onBreakerTransition(listener: (transition: BreakerTransition) => void): () => void {
    return this.transitions.on(listener);
  }

  private changed(change: PoolChange): void {
    this.changes.emit(change);
  }

  /** Subscribes to the breakers of backends not seen before. */
  private watch(pool: Pool): void {
    for (const backend of pool.backends) {
      if (this.watched.has(backend)) continue;
      this.watched.add(backend);
      backend.breaker.onStateChange((event) => {
        this.transitions.emit({ pool: pool.name, backend: backend.url, event });
      });
    }
  }

  /**
   * A pool over caller-given URLs (`candidates`), kept per distinct URL set (bounded, least recently used evicted)
   * so its balancing state survives between calls. Backends already known keep their state.
   */
  adHoc(service: string, urls: readonly string[]): Pool {
    const key = `${service}\u0000${urls.join('\u0000')}`;
    let pool = this.adHocPools.get(key);
    if (pool === undefined) {
      const unique = [...new Set(urls)];
      pool = new Pool(
        service,
        unique.map((url) => this.known(url) ?? new Backend(url, 1, this.backendOptions)),
        this.poolOptions,
      );
      this.watch(pool);
      this.adHocPools.set(key, pool);
    }
    return pool;
  }

  /** Share of healthy backends over every configured pool; 1 when there are none. */
  healthRatio(now?: number): number {
    let healthy = 0;
    let total = 0;
    for (const pool of this.pools.values()) {
      healthy += pool.healthyCount(now);
      total += pool.backends.length;
    }
    return total === 0 ? 1 : healthy / total;
  }

  /** The `/health` body; `degraded` when the healthy ratio is under ORCH_HEALTH_DEGRADED_RATIO. */
  snapshot(now?: number): HealthSnapshot {
    const ratio = this.healthRatio(now);
    // No prototype: a name can never be anything but a key here.
    const pools: HealthSnapshot['pools'] = Object.create(null) as HealthSnapshot['pools'];
    for (const [name, pool] of this.pools) pools[name] = pool.toJSON(now);
    return {
      status: ratio < this.config.health.degradedRatio ? 'degraded' : 'ok',
      health_ratio: Math.round(ratio * 1000) / 1000,
      pools,
    };
  }

  /** A configured backend with this URL, so ad-hoc pools share its health, latency and breaker (and weight). */
  private known(url: string): Backend | undefined {
    for (const pool of this.pools.values()) {
      for (const backend of pool.backends) if (backend.url === url) return backend;
    }
    return undefined;
  }
}
