import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { LruMap } from '@shieldx/collections';
import type { BreakerStateName } from '@shieldx/lb';
import type { ThreatVerdict } from '@shieldx/policy';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { AdvisorUnavailableError } from '../errors/errors';
import { AdvisorCallError, advisorClient, type AdvisorClient } from './advisor-client';
import { AdvisorMetrics } from './advisor-metrics';

/** Most reasons kept from one answer, and most characters of each (they reach the policy and its cache key). */
const MAX_REASONS = 16;
const MAX_REASON_CHARS = 128;

interface CachedVerdict {
  readonly verdict: ThreatVerdict;
  readonly fetchedAt: number;
  readonly expiresAt: number;
}

/** One client IP's score as the admin API shows it. */
export interface RecentThreat {
  readonly ip: string;
  readonly score: number;
  readonly reasons: readonly string[];
  /** When the service gave it (epoch ms). */
  readonly fetchedAt: number;
}

/** Reads the service's answer: `{"score": 0-100, "reasons": [text, …]}` (reasons optional). */
export function readThreatAnswer(json: unknown): ThreatVerdict {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('not an object');
  const { score, reasons } = json as Record<string, unknown>;
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 100) {
    throw new Error('score must be a number in [0, 100]');
  }
  if (reasons !== undefined && !Array.isArray(reasons)) throw new Error('reasons must be a list');
  const kept = (reasons ?? [])
    .filter((reason): reason is string => typeof reason === 'string')
    .slice(0, MAX_REASONS)
    .map((reason) => reason.slice(0, MAX_REASON_CHARS));
  return Object.freeze({ score: Math.round(score), reasons: Object.freeze(kept) });
}

/**
 * The threat score of a client IP, from the service at ORCH_THREAT_URL: cached per IP for ORCH_THREAT_CACHE_TTL in a
 * bounded LRU, one call in flight per IP however many requests wait for it, each call within ORCH_THREAT_TIMEOUT and
 * behind a breaker. When the service gives no answer, ORCH_THREAT_ON_ERROR decides: go on without a score (score 0,
 * reason `unavailable`), refuse (503 `threat_unavailable`), or go on with a fixed score. A cached score is answered
 * synchronously: the request path awaits nothing.
 */
@Injectable()
export class ThreatScores implements OnApplicationShutdown {
  readonly enabled: boolean;
  private readonly client: AdvisorClient | undefined;
  private readonly cache: LruMap<string, CachedVerdict>;
  private readonly inflight = new Map<string, Promise<ThreatVerdict>>();
  private readonly fallback: ThreatVerdict | undefined;

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly metrics: AdvisorMetrics,
  ) {
    const { onError } = config.threat;
    this.client = advisorClient('threat', config.threat, config.advisors, metrics);
    this.enabled = this.client !== undefined;
    this.cache = new LruMap(config.threat.cacheSize);
    this.fallback =
      onError.kind === 'deny'
        ? undefined
        : Object.freeze({
            score: onError.kind === 'score' ? onError.score : 0,
            reasons: Object.freeze(['unavailable']),
          });
  }

  /** The breaker of the service (`closed` when none is configured). */
  get breakerState(): BreakerStateName {
    return this.client?.breakerState ?? 'closed';
  }

  /**
   * The verdict on `ip` (asked on behalf of `tenant` when it is not cached): a value when cached, else a promise.
   * Rejects with {@link AdvisorUnavailableError} when the service gives no answer and the fail mode is `deny`.
   */
  scoreOf(ip: string, tenant: string, now: number = Date.now()): ThreatVerdict | Promise<ThreatVerdict> {
    const cached = this.cache.get(ip);
    if (cached !== undefined) {
      if (cached.expiresAt > now) {
        this.metrics.threatLookup('hit');
        return cached.verdict;
      }
      // Never used again (a new answer replaces it): dropped, so it cannot outlive live scores while the service is down.
      this.cache.delete(ip);
    }
    const pending = this.inflight.get(ip);
    if (pending !== undefined) {
      this.metrics.threatLookup('coalesced');
      return pending;
    }
    this.metrics.threatLookup('miss');
    const call = this.fetch(ip, tenant).finally(() => this.inflight.delete(ip));
    this.inflight.set(ip, call);
    return call;
  }

  /** The scores cached now, most recently used first (at most `limit`). */
  recent(limit: number, now: number = Date.now()): RecentThreat[] {
    const recent: RecentThreat[] = [];
    for (const [ip, entry] of this.cache.newestFirst()) {
      if (recent.length >= limit) break;
      if (entry.expiresAt <= now) continue;
      recent.push({ ip, score: entry.verdict.score, reasons: entry.verdict.reasons, fetchedAt: entry.fetchedAt });
    }
    return recent;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client?.close();
  }

  private async fetch(ip: string, tenant: string): Promise<ThreatVerdict> {
    const client = this.client;
    if (client === undefined) throw new Error('no threat service is configured');
    const url = `${this.config.threat.url}?ip=${encodeURIComponent(ip)}&tenant=${encodeURIComponent(tenant)}`;
    try {
      const verdict = await client.call(url, 'GET', undefined, readThreatAnswer);
      this.remember(ip, verdict);
      return verdict;
    } catch (error) {
      if (!(error instanceof AdvisorCallError)) throw error;
      const mode = this.config.threat.onError;
      this.metrics.failMode('threat', mode.kind);
      if (this.fallback === undefined) throw new AdvisorUnavailableError('threat');
      return this.fallback;
    }
  }

  private remember(ip: string, verdict: ThreatVerdict): void {
    const now = Date.now();
    this.cache.set(ip, { verdict, fetchedAt: now, expiresAt: now + this.config.threat.cacheTtlMs });
  }
}
