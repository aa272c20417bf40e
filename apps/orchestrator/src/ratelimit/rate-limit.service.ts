import { Inject, Injectable } from '@nestjs/common';
import {
  BucketStoreUnavailableError,
  FailoverBucketStore,
  RefusalCache,
  type BucketResult,
  type BucketStore,
  type WallClock,
} from '@shieldx/security';
import { WALL_CLOCK, withinWindow } from '../clock/clock';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { SecurityEvents } from '../events/security-events';
import { RateLimitedError, RateLimitUnavailableError } from '../errors/errors';
import type { GatewayRequestState } from '../request/request-state';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { AdaptiveProtection } from './adaptive-protection';
import { RateLimitMetrics } from './rate-limit-metrics';
import { PoolsService } from '../pools/pools.service';

/** Injection token of the {@link BucketStore}. */
export const BUCKET_STORE = Symbol('BUCKET_STORE');

/** Interval over which denials of one key are aggregated into one security event. */
const EVENT_WINDOW_MS = 10_000;
/** Most keys whose denials are being aggregated at once. */
const EVENT_KEYS_MAX = 10_000;

/**
 * Token buckets per client IP and per tenant (docs/rate-limiting.md: ORCH_IP_BURST, ORCH_TENANT_BURST, tokens per minute, bucket
 * size = the same figure). While the healthy ratio is under ORCH_HEALTH_DEGRADED_RATIO the per-IP figure drops to
 * ORCH_IP_BURST_DEGRADED. Sets the tightest outcome on the request state for the RateLimit-* headers.
 *
 * In-process, the per-IP token is taken in the `onRequest` hook, before the body is read. With Redis each take is a
 * round trip, and two per request halve throughput, so the per-IP take is deferred and made together with the
 * tenant's in one atomic script ({@link BucketStore.takeAll}): the same tokens, in the same order, one round trip.
 * Floods are still refused before their body is read: a refusal of an IP is remembered locally until its
 * Retry-After ({@link RefusalCache}, exact: no token can exist before then), and `onRequest` refuses from it. A request
 * answered before its tenant step (a 4xx, an unknown service) takes the token it owes after its answer
 * ({@link takeOwedIp}), so every data-plane request counts against its IP either way.
 */
@Injectable()
export class RateLimitService {
  private readonly denials = new Map<string, { since: number; count: number }>();
  private readonly refusals = new RefusalCache();
  /** True with a shared (Redis) store: the per-IP take waits for the tenant's (see the class comment). */
  private readonly deferIp: boolean;

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    @Inject(BUCKET_STORE) private readonly store: BucketStore,
    @Inject(WALL_CLOCK) private readonly clock: WallClock,
    private readonly pools: PoolsService,
    private readonly metrics: GatewayMetrics,
    private readonly limitMetrics: RateLimitMetrics,
    private readonly events: SecurityEvents,
    private readonly adaptive: AdaptiveProtection,
  ) {
    this.deferIp = config.redis.url !== undefined;
    // Remembered refusals describe the buckets that gave them; after a switch between Redis and the fallback, ask.
    if (store instanceof FailoverBucketStore) store.onStateChange(() => this.refusals.clear());
  }

  /**
   * Takes a token for the client IP; throws {@link RateLimitedError} when none is left. With Redis: refuses at once
   * when a refusal of this IP still stands, otherwise leaves the take to {@link checkTenant} (or {@link takeOwedIp}).
   */
  checkIp(state: GatewayRequestState, corrId: string): void | Promise<void> {
    const { ipPerMinute, ipPerMinuteDegraded } = this.config.rateLimit;
    const degraded = this.pools.healthRatio() < this.config.health.degradedRatio;
    const key = `ip:${state.clientKey}`;
    const limit = this.adapted(key, degraded ? ipPerMinuteDegraded : ipPerMinute);
    if (!this.deferIp) return this.take('ip', key, limit, state, corrId);
    const standing = this.refusals.check(key, limit, this.clock.now());
    if (standing !== undefined) return this.settle('ip', key, limit, standing, state, corrId);
    state.deferredIp = { key, limit };
  }

  /**
   * Takes a token for the tenant (its ORCH_TENANT_LIMITS figure, else ORCH_TENANT_BURST); throws
   * {@link RateLimitedError} when none is left.
   */
  checkTenant(tenant: string, state: GatewayRequestState, corrId: string): void | Promise<void> {
    const { tenantOverrides, tenantPerMinute } = this.config.rateLimit;
    const key = `tenant:${tenant}`;
    const limit = this.adapted(key, tenantOverrides.get(tenant) ?? tenantPerMinute);
    const ip = state.deferredIp;
    if (ip === undefined) return this.take('tenant', key, limit, state, corrId);
    state.deferredIp = undefined;
    const takes = [
      { key: ip.key, ratePerMinute: ip.limit, burst: ip.limit },
      { key, ratePerMinute: limit, burst: limit },
    ];
    let outcome: readonly BucketResult[] | Promise<readonly BucketResult[]>;
    try {
      outcome = this.store.takeAll(takes, this.clock.now());
    } catch (error) {
      throw this.unavailable(error);
    }
    const settleBoth = (results: readonly BucketResult[]): void => {
      this.settle('ip', ip.key, ip.limit, results[0], state, corrId);
      this.settle('tenant', key, limit, results[1], state, corrId);
    };
    if (outcome instanceof Promise)
      return outcome.then(settleBoth, (error: unknown) => {
        throw this.unavailable(error);
      });
    settleBoth(outcome);
  }

  /**
   * After the answer to a request that never reached its tenant step: takes the per-IP token it still owes (in the
   * background; the answer is already gone), so such requests count against their IP as they do in-process, and a
   * refusal is remembered for the next ones. Does nothing when nothing is owed.
   */
  takeOwedIp(state: GatewayRequestState): void {
    const ip = state.deferredIp;
    if (ip === undefined) return;
    state.deferredIp = undefined;
    const note = (result: BucketResult): void => this.refusals.remember(ip.key, ip.limit, result, this.clock.now());
    try {
      const outcome = this.store.take(ip.key, ip.limit, ip.limit, this.clock.now());
      if (outcome instanceof Promise) outcome.then(note, () => undefined);
      else note(outcome);
    } catch {
      // Store unavailable (fail-closed): nothing to take; the next request is refused anyway.
    }
  }

  /** RateLimit-* headers (IETF draft, delta-seconds) for a bucket outcome. */
  static headers(limit: number, result: BucketResult): Record<string, string> {
    const headers: Record<string, string> = {
      'ratelimit-limit': String(limit),
      'ratelimit-remaining': String(result.remaining),
      'ratelimit-reset': String(Math.ceil(result.resetMs / 1000)),
    };
    if (!result.ok) headers['retry-after'] = String(Math.max(1, Math.ceil(result.retryAfterMs / 1000)));
    return headers;
  }

  /** `limit` times the key's adaptive factor (ORCH_ADAPTIVE=enforce), at least 1; the request is observed. */
  private adapted(key: string, limit: number): number {
    const factor = this.adaptive.factor(key, this.clock.now());
    return factor === 1 ? limit : Math.max(1, Math.floor(limit * factor));
  }

  private take(
    scope: 'ip' | 'tenant',
    key: string,
    limit: number,
    state: GatewayRequestState,
    corrId: string,
  ): void | Promise<void> {
    let outcome: BucketResult | Promise<BucketResult>;
    try {
      outcome = this.store.take(key, limit, limit, this.clock.now());
    } catch (error) {
      throw this.unavailable(error);
    }
    if (outcome instanceof Promise)
      return outcome.then(
        (result) => this.settle(scope, key, limit, result, state, corrId),
        (error: unknown) => {
          throw this.unavailable(error);
        },
      );
    this.settle(scope, key, limit, outcome, state, corrId);
  }

  /** A fail-closed store without its backend refuses with 429 `ratelimit_unavailable`; anything else is a bug. */
  private unavailable(error: unknown): unknown {
    if (!(error instanceof BucketStoreUnavailableError)) return error;
    this.metrics.denied('ratelimit_unavailable');
    return new RateLimitUnavailableError();
  }

  private settle(
    scope: 'ip' | 'tenant',
    key: string,
    limit: number,
    result: BucketResult,
    state: GatewayRequestState,
    corrId: string,
  ): void {
    if (state.limit === undefined || result.remaining <= state.limit.result.remaining) state.limit = { limit, result };
    if (result.ok) return;
    if (scope === 'ip' && this.deferIp) this.refusals.remember(key, limit, result, this.clock.now());
    this.limitMetrics.rateLimited(scope);
    this.metrics.denied('ratelimit');
    this.recordDenial(scope, key, corrId);
    throw new RateLimitedError(scope, RateLimitService.headers(limit, result));
  }

  /** One security event per key per window, carrying how many denials it stands for. */
  private recordDenial(scope: string, key: string, corrId: string): void {
    const now = this.clock.now();
    const entry = this.denials.get(key);
    if (entry !== undefined && withinWindow(now, entry.since, EVENT_WINDOW_MS)) {
      entry.count++;
      return;
    }
    const suppressed = entry?.count ?? 0;
    this.denials.delete(key);
    if (this.denials.size >= EVENT_KEYS_MAX) this.denials.delete(this.denials.keys().next().value as string);
    this.denials.set(key, { since: now, count: 0 });
    this.events.emit({ type: 'ratelimit.denied', corrId, data: { scope, key, suppressedSincePrevious: suppressed } });
  }
}
