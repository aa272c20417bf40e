import { AuthMetrics } from './auth-metrics';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { FailoverReplayStore, MemoryReplayStore, RedisReplayStore, type ReplayStore } from '@shieldx/security';
import type { Redis } from 'ioredis';
import type { OrchestratorConfig } from '../config/config';
import { withinWindow } from '../clock/clock';
import { ORCH_CONFIG } from '../config/config.module';
import { REDIS_CLIENT } from '../redis/redis.constants';

/** Interval over which failures of the shared replay store are folded into one log line, ms. */
const LOG_EVERY_MS = 10_000;

/**
 * Chooses and owns the {@link ReplayStore} of the caller proofs: in-process without Redis, bounded by
 * ORCH_REPLAY_MAX_KEYS live keys of which one client (IP; IPv6: its network of ORCH_IPV6_CLIENT_PREFIX bits as the per-IP bucket counts it, never finer than a /64) may hold ORCH_REPLAY_CLIENT_SHARE; with
 * Redis, `SET NX PX` on the shared client (keys `shieldx:replay:admission:<nonce>` and
 * `shieldx:replay:dpop:<sha256 of jkt and jti>`, so every instance refuses every other's replays) behind a
 * {@link FailoverReplayStore}: when a check fails (error, timeout after
 * ORCH_REDIS_TIMEOUT, no connection) the proof is refused with 401 `replay_store_unavailable` (`closed`, the
 * default of ORCH_REPLAY_REDIS_FAILURE), or checked against this instance's own record (`open`). Every failure counts
 * in `orchestrator_replay_store_errors_total`; a `replay_store_error` warning is logged at most once per 10 s.
 */
@Injectable()
export class ReplayBackend {
  readonly store: ReplayStore;
  /** Where keys live: `memory` or `redis`. */
  readonly kind: 'memory' | 'redis';
  private readonly logger = new Logger('replay');
  private lastLogAt = -Infinity;
  private unlogged = 0;

  constructor(
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
    @Inject(REDIS_CLIENT) redis: Redis | null,
    private readonly metrics: AuthMetrics,
  ) {
    const bounds = { maxKeys: config.replay.maxKeys, clientShare: config.replay.clientShare };
    if (redis === null) {
      this.kind = 'memory';
      this.store = new MemoryReplayStore(bounds);
      return;
    }
    this.kind = 'redis';
    const mode = config.replay.redisFailure;
    this.store = new FailoverReplayStore(new RedisReplayStore(redis), {
      mode,
      local: mode === 'open' ? new MemoryReplayStore(bounds) : undefined,
      onError: (error) => this.failed(error, mode),
    });
  }

  private failed(error: unknown, mode: 'open' | 'closed'): void {
    this.metrics.replayStoreError();
    const now = Date.now();
    if (withinWindow(now, this.lastLogAt, LOG_EVERY_MS)) {
      this.unlogged++;
      return;
    }
    this.logger.warn({
      event: 'replay_store_error',
      error: error instanceof Error ? error.message : String(error),
      failure: mode,
      suppressedSincePrevious: this.unlogged,
      msg:
        mode === 'closed'
          ? 'Redis replay check failed: caller proofs are refused (401 replay_store_unavailable) until it answers'
          : 'Redis replay check failed: caller proofs are checked against this instance only until it answers',
    });
    this.lastLogAt = now;
    this.unlogged = 0;
  }
}
