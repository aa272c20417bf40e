import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { BreakerStateName } from '@shieldx/lb';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { AdvisorUnavailableError, QuotaExceededError } from '../errors/errors';
import { AdvisorCallError, advisorClient, type AdvisorClient } from './advisor-client';
import { AdvisorMetrics } from './advisor-metrics';

/** The quota service's verdict. */
export interface QuotaAnswer {
  readonly allowed: boolean;
  /** Units left after this request (or now, when refused). */
  readonly remaining: number;
}

/** Reads the service's answer: `{"allowed": bool, "remaining": n}` (n a number ≥ 0, rounded down). */
export function readQuotaAnswer(json: unknown): QuotaAnswer {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('not an object');
  const { allowed, remaining } = json as Record<string, unknown>;
  if (typeof allowed !== 'boolean') throw new Error('allowed must be true or false');
  if (typeof remaining !== 'number' || !Number.isFinite(remaining) || remaining < 0) {
    throw new Error('remaining must be a number >= 0');
  }
  return { allowed, remaining: Math.floor(remaining) };
}

/**
 * Quota checks before a request is served, against the service at ORCH_QUOTA_URL: a request of a scope in
 * ORCH_QUOTA_SCOPES costs 1 unit, one whose policy decision names a `cost` costs that. Refused → 429
 * `quota_exceeded`; what is left goes back in `X-Quota-Remaining`. Each call within ORCH_QUOTA_TIMEOUT, behind a
 * breaker; without an answer ORCH_QUOTA_ON_ERROR decides (go on, or 503 `quota_unavailable`).
 */
@Injectable()
export class QuotaService implements OnApplicationShutdown {
  readonly enabled: boolean;
  private readonly client: AdvisorClient | undefined;
  private readonly everyScope: boolean;
  private readonly scopes: ReadonlySet<string>;

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly metrics: AdvisorMetrics,
  ) {
    const { scopes } = config.quota;
    this.client = advisorClient('quota', config.quota, config.advisors, metrics);
    this.enabled = this.client !== undefined;
    this.everyScope = scopes.includes('*');
    this.scopes = new Set(scopes);
  }

  /** The breaker of the service (`closed` when none is configured). */
  get breakerState(): BreakerStateName {
    return this.client?.breakerState ?? 'closed';
  }

  /** Units a request of `scope` costs: the decision's `cost` when it names one, else 1 for a listed scope, else 0. */
  costOf(scope: string, decisionCost: number | undefined): number {
    if (!this.enabled) return 0;
    if (decisionCost !== undefined) return decisionCost;
    return this.everyScope || this.scopes.has(scope) ? 1 : 0;
  }

  /**
   * Charges `cost` units to `tenant`. Resolves with the units left (undefined when the service gave no answer and the
   * fail mode let the request go on); rejects with {@link QuotaExceededError} or {@link AdvisorUnavailableError}.
   */
  async charge(tenant: string, scope: string, cost: number): Promise<number | undefined> {
    const client = this.client;
    if (client === undefined) return undefined;
    let answer: QuotaAnswer;
    try {
      answer = await client.call(
        this.config.quota.url as string,
        'POST',
        JSON.stringify({ tenant, scope, cost }),
        readQuotaAnswer,
      );
    } catch (error) {
      if (!(error instanceof AdvisorCallError)) throw error;
      this.metrics.failMode('quota', this.config.quota.onError);
      if (this.config.quota.onError === 'deny') throw new AdvisorUnavailableError('quota');
      return undefined;
    }
    this.metrics.quotaChecked(answer.allowed ? 'allowed' : 'refused');
    if (!answer.allowed) throw new QuotaExceededError(answer.remaining);
    return answer.remaining;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client?.close();
  }
}
