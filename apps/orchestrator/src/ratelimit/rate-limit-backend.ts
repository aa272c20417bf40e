import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import {
  FailoverBucketStore,
  MemoryBucketStore,
  RedisBucketStore,
  type BucketStore,
  type PrimaryStateChange,
} from '@shieldx/security';
import type { Redis } from 'ioredis';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { RateLimitMetrics } from './rate-limit-metrics';
import { REDIS_CLIENT } from '../redis/redis.constants';

/** How often an unreachable Redis is probed (PING) while the limiter runs on its fallback, ms. */
const PROBE_EVERY_MS = 1000;

/**
 * Chooses and owns the {@link BucketStore}: in-process buckets when Redis is not configured; otherwise Redis (a Lua
 * script, the takes of concurrent requests batched into one call, shared by every instance) behind a {@link FailoverBucketStore} whose fallback is in-process
 * buckets (fail-open) or a refusal (fail-closed, ORCH_RATELIMIT_REDIS_FAILURE). The connection's own events steer
 * it too: a closed connection marks Redis down before any request has to time out, a ready one probes at once.
 * Each transition writes one log line and sets `orchestrator_ratelimit_redis_up`.
 */
@Injectable()
export class RateLimitBackend implements BeforeApplicationShutdown {
  readonly store: BucketStore;
  /** The failover store when Redis is configured (tests wait on its state changes). */
  readonly failover: FailoverBucketStore | null = null;
  private readonly logger = new Logger('ratelimit');
  private readonly detach: () => void = () => undefined;

  constructor(
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
    @Inject(REDIS_CLIENT) redis: Redis | null,
    metrics: RateLimitMetrics,
  ) {
    const memory = new MemoryBucketStore();
    if (redis === null) {
      this.store = memory;
      return;
    }
    const mode = config.rateLimit.redisFailure;
    // A Redis Cluster: one script takes a request's IP and tenant tokens, so every bucket shares one hash tag (slot).
    const buckets = new RedisBucketStore(redis, {
      batchMost: config.rateLimit.redisBatch,
      ...(config.redis.cluster === undefined ? {} : { prefix: '{shieldx:rl}:' }),
    });
    const failover = new FailoverBucketStore(buckets, memory, {
      mode,
      probe: () => redis.ping(),
      probeEveryMs: PROBE_EVERY_MS,
      initialState: redis.status === 'ready' ? 'up' : 'down',
    });
    this.store = this.failover = failover;
    metrics.redisUp(failover.state === 'up');
    if (failover.state === 'down') this.report(mode, { state: 'down', reason: failover.reason, at: Date.now() });
    failover.onStateChange((change) => {
      metrics.redisUp(change.state === 'up');
      this.report(mode, change);
    });
    const onClose = () => failover.markDown('connection to Redis closed');
    const onReady = () => failover.probeNow();
    redis.on('close', onClose);
    redis.on('ready', onReady);
    this.detach = () => {
      redis.off('close', onClose);
      redis.off('ready', onReady);
      failover.close();
    };
  }

  /** Stops probing and listening before the Redis client is closed, so shutdown reports no outage. */
  beforeApplicationShutdown(): void {
    this.detach();
  }

  private report(mode: 'open' | 'closed', change: PrimaryStateChange): void {
    if (change.state === 'up') {
      this.logger.log({ event: 'ratelimit_backend', backend: 'redis', state: 'up', reason: change.reason });
      return;
    }
    this.logger.warn({
      event: 'ratelimit_backend',
      backend: mode === 'open' ? 'in-process' : 'none',
      state: 'down',
      reason: change.reason,
      failure: mode,
      msg:
        mode === 'open'
          ? 'Redis unavailable: rate limits fall back to in-process buckets (per instance) until it returns'
          : 'Redis unavailable: requests are refused (429 ratelimit_unavailable) until it returns',
    });
  }
}
