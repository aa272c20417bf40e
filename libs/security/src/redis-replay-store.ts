import type { ReplayStore } from './replay-store';

/**
 * The part of a Redis client this store needs: `SET key value PX ms NX`, answering `OK` when the key was set and
 * `null` when it existed. An ioredis `Redis` instance fits. Configure the client so a call cannot hang (ioredis
 * `commandTimeout`, `enableOfflineQueue: false`): this store adds no timer of its own.
 */
export interface RedisSetClient {
  set(key: string, value: string, px: 'PX', ttlMs: number, nx: 'NX'): Promise<'OK' | null>;
}

/** Options of {@link RedisReplayStore}. */
export interface RedisReplayStoreOptions {
  /** Prefix of every key. Default `shieldx:replay:`. */
  readonly prefix?: string;
}

/**
 * Replay keys in Redis, shared by every instance using the same server: one `SET <prefix><key> 1 PX <ttl> NX` per
 * check, atomic in Redis, so of two instances seeing the same proof at the same moment exactly one is told it is
 * the first. Keys expire on their own (`PX`); nothing is ever read back. The `now` argument of the port is ignored:
 * expiry runs on the Redis server's clock. A failed or timed-out command rejects; the caller decides what that means.
 */
export class RedisReplayStore implements ReplayStore {
  private readonly prefix: string;

  constructor(
    private readonly client: RedisSetClient,
    options: RedisReplayStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'shieldx:replay:';
  }

  /**
   * `_now` is ignored: keys expire on the Redis server's clock. `_client` is ignored too: Redis memory is bounded by
   * its own `maxmemory` (with `noeviction`, a full Redis fails the command, which the failover store turns into a
   * refusal, never into a forgotten key).
   */
  firstSeen(key: string, ttlMs: number, _now?: number, _client?: string): Promise<boolean> {
    return this.client.set(this.prefix + key, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX').then((reply) => {
      if (reply === 'OK') return true;
      if (reply === null) return false;
      throw new Error(`RedisReplayStore: unexpected reply ${JSON.stringify(reply)}`);
    });
  }
}
