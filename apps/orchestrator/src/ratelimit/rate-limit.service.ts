import { Inject, Injectable } from '@nestjs/common';
import { BucketStoreUnavailableError, type BucketResult, type BucketStore, type Clock } from '@shieldx/security';
import { CLOCK } from '../clock/clock';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { SecurityEvents } from '../events/security-events';
import { RateLimitedError, RateLimitUnavailableError } from '../http/errors';
import type { GatewayRequestState } from '../http/request-state';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { PoolsService } from '../pools/pools.service';

/** Injection token of the {@link BucketStore}. */
export const BUCKET_STORE = Symbol('BUCKET_STORE');

/** Interval over which denials of one key are aggregated into one security event. */
const EVENT_WINDOW_MS = 10_000;
/** Most keys whose denials are being aggregated at once. */
const EVENT_KEYS_MAX = 10_000;

/**
 * Token buckets per client IP and per tenant (contract: ORCH_IP_BURST, ORCH_TENANT_BURST, tokens per minute, bucket
 * size = the same figure). While the healthy ratio is under ORCH_HEALTH_DEGRADED_RATIO the per-IP figure drops to
 * ORCH_IP_BURST_DEGRADED. Sets the tightest outcome on the request state for the RateLimit-* headers.
 */
@Injectable()
export class RateLimitService {
  private readonly denials = new Map<string, { since: number; count: number }>();

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    @Inject(BUCKET_STORE) private readonly store: BucketStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly pools: PoolsService,
    private readonly metrics: GatewayMetrics,
    private readonly events: SecurityEvents,
  ) {}

  /** Takes a token for the client IP; throws {@link RateLimitedError} when none is left. */
  checkIp(state: GatewayRequestState, corrId: string): void | Promise<void> {
    const { ipPerMinute, ipPerMinuteDegraded } = this.config.rateLimit;
    const degraded = this.pools.healthRatio() < this.config.health.degradedRatio;
    const limit = degraded ? ipPerMinuteDegraded : ipPerMinute;
    return this.take('ip', `ip:${state.clientIp}`, limit, state, corrId);
  }

  /**
   * Takes a token for the tenant (its ORCH_TENANT_LIMITS figure, else ORCH_TENANT_BURST); throws
   * {@link RateLimitedError} when none is left.
   */
  checkTenant(tenant: string, state: GatewayRequestState, corrId: string): void | Promise<void> {
    const { tenantOverrides, tenantPerMinute } = this.config.rateLimit;
    return this.take('tenant', `tenant:${tenant}`, tenantOverrides.get(tenant) ?? tenantPerMinute, state, corrId);
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
    this.metrics.rateLimited(scope);
    this.metrics.denied('ratelimit');
    this.recordDenial(scope, key, corrId);
    throw new RateLimitedError(scope, RateLimitService.headers(limit, result));
  }

  /** One security event per key per window, carrying how many denials it stands for. */
  private recordDenial(scope: string, key: string, corrId: string): void {
    const now = this.clock.now();
    const entry = this.denials.get(key);
    if (entry !== undefined && now - entry.since < EVENT_WINDOW_MS) {
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
