import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { REDIS_CLIENT } from './redis.constants';

/**
 * The `redis` indicator of `/readyz`, present when Redis is configured: a `PING` (bounded by ORCH_REDIS_TIMEOUT).
 * Answered: up. Not answered: with ORCH_RATELIMIT_REDIS_FAILURE=open the instance still serves with per-instance
 * limits, so the indicator stays up and says `degraded: true`; with `closed` it refuses data-plane requests, so the
 * indicator is down and `/readyz` answers 503 (a load balancer should send traffic elsewhere). The same holds when
 * caller proofs are required (ADMISSION_SECRET or ORCH_DPOP_REQUIRED=1) and ORCH_REPLAY_REDIS_FAILURE is `closed`:
 * every guarded request would be refused.
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS_CLIENT) private readonly client: Redis | null,
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
  ) {}

  /** Whether Redis is configured (otherwise there is nothing to check). */
  get configured(): boolean {
    return this.client !== null;
  }

  async check(key = 'redis'): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    if (this.client === null) return indicator.up({ configured: false });
    const started = performance.now();
    try {
      await this.client.ping();
      return indicator.up({ connection: 'ready', latencyMs: Math.round((performance.now() - started) * 100) / 100 });
    } catch (error) {
      // Caller proofs refused while Redis is down (ORCH_REPLAY_REDIS_FAILURE=closed) matter when proofs are required.
      const { replay, admission, dpop } = this.config;
      const proofsRefused = replay.redisFailure === 'closed' && (admission.secrets.length > 0 || dpop.required);
      const failOpen = this.config.rateLimit.redisFailure === 'open' && !proofsRefused;
      const details = {
        connection: this.client.status,
        error: (error as Error).message,
        rateLimits: this.config.rateLimit.redisFailure === 'open' ? 'in-process, per instance' : 'refused',
        replayChecks: replay.redisFailure === 'open' ? 'in-process, per instance' : 'refused',
      };
      return failOpen ? indicator.up({ ...details, degraded: true }) : indicator.down(details);
    }
  }
}
