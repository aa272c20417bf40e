import { Logger, type FactoryProvider } from '@nestjs/common';
import type { Redis, RedisOptions } from 'ioredis';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { redactUrl } from '../config/parse';
import { REDIS_CLIENT } from './redis.constants';

/** Longest wait between two reconnection attempts, ms. */
const RECONNECT_MAX_MS = 1000;

/**
 * Client options for a request path that must never hang on Redis: every command is bounded by
 * ORCH_REDIS_TIMEOUT (`commandTimeout`); nothing queues while disconnected (`enableOfflineQueue: false`, so a call
 * fails at once and the caller falls back); a command cut by a disconnection is not retried or resent (it would take
 * a token twice); reconnection is tried forever, backing off to once a second.
 *
 * No auto-pipelining: ioredis keeps one auto-pipeline in flight per connection and queues every command issued
 * meanwhile behind it, so each command waits for the previous batch's round trip too, and the batches' objects
 * outlive young-generation collections. The rate limiter batches its takes itself (RedisBucketStore), without that
 * queue.
 */
export function redisOptions(timeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(1000, 4 * timeoutMs),
    connectionName: 'shieldx-orchestrator',
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 10), RECONNECT_MAX_MS),
  };
}

/**
 * A Redis Cluster client (REDIS_CLUSTER seed nodes; user, password and TLS from the first) with the same bounds as
 * {@link redisOptions}. It answers the same commands as a single connection, so it stands in for one behind
 * {@link REDIS_CLIENT}; every ShieldX key is used alone or hash-tagged (rate-limit buckets: `{shieldx:rl}:…`), so no
 * command crosses slots.
 */
export async function clusterClient(nodes: readonly string[], timeoutMs: number): Promise<Redis> {
  // ioredis is loaded only when Redis is configured: a gateway without Redis does not carry it in memory.
  const { Cluster } = await import('ioredis');
  const first = new URL(nodes[0]);
  const { lazyConnect, enableOfflineQueue, retryStrategy, ...perNode } = redisOptions(timeoutMs);
  const cluster = new Cluster(
    nodes.map((node) => {
      const url = new URL(node);
      return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) };
    }),
    {
      lazyConnect,
      enableOfflineQueue,
      clusterRetryStrategy: retryStrategy,
      slotsRefreshTimeout: Math.max(1000, 4 * timeoutMs),
      redisOptions: {
        ...perNode,
        username: first.username === '' ? undefined : decodeURIComponent(first.username),
        password: first.password === '' ? undefined : decodeURIComponent(first.password),
        tls: first.protocol === 'rediss:' ? {} : undefined,
      },
    },
  );
  return cluster as unknown as Redis;
}

/**
 * Creates the shared client and tries to connect once before the application starts (bounded by the connect
 * timeout). An unreachable Redis does not stop start-up: the client keeps reconnecting in the background and each
 * user decides what to do meanwhile (rate limits: ORCH_RATELIMIT_REDIS_FAILURE).
 */
export async function createRedisClient(config: OrchestratorConfig): Promise<Redis | null> {
  const { url, timeoutMs } = config.redis;
  if (url === undefined) return null;
  const logger = new Logger('redis');
  const where = redactUrl(url);
  const client =
    config.redis.cluster === undefined
      ? new (await import('ioredis')).Redis(url, redisOptions(timeoutMs))
      : await clusterClient(config.redis.cluster, timeoutMs);
  let connected = false;
  let lastError = '';
  client.on('ready', () => {
    connected = true;
    logger.log({ event: 'redis_connected', url: where });
  });
  client.on('close', () => {
    if (!connected) return;
    connected = false;
    logger.warn({ event: 'redis_disconnected', url: where, error: lastError || undefined });
  });
  // Without a listener ioredis prints every failed reconnection; the transitions above are what operators need.
  client.on('error', (error: Error) => {
    lastError = error.message;
  });
  try {
    await client.connect();
  } catch (error) {
    logger.warn({
      event: 'redis_unavailable_at_start',
      url: where,
      error: lastError || (error as Error).message,
      msg: 'Redis is not reachable; retrying in the background',
    });
  }
  return client;
}

/** The {@link REDIS_CLIENT} provider. */
export const redisClientProvider: FactoryProvider<Promise<Redis | null>> = {
  provide: REDIS_CLIENT,
  inject: [ORCH_CONFIG],
  useFactory: createRedisClient,
};
