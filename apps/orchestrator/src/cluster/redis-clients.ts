import type { Cluster, Redis, RedisOptions } from 'ioredis';

/** True when the shared client is an ioredis `Cluster` (REDIS_CLUSTER) rather than one connection. */
export function isClusterClient(client: Redis): boolean {
  return (client as unknown as { isCluster?: boolean }).isCluster === true;
}

/**
 * A new connection with the shared client's settings, for the subscriber (a connection in subscriber mode can send
 * no other command): not connected yet (`connect()` it), no automatic resubscription (the channel resubscribes and
 * resyncs itself on every `ready`). Works for one server and for a Redis Cluster, whose `duplicate` takes the
 * start-up nodes first.
 */
export function duplicateClient(client: Redis, connectionName: string): Redis {
  const overrides: Partial<RedisOptions> = { connectionName, autoResubscribe: false, lazyConnect: true };
  if (!isClusterClient(client)) return client.duplicate(overrides);
  const cluster = client as unknown as Cluster;
  const duplicate = cluster.duplicate(undefined, {
    lazyConnect: true,
    redisOptions: { ...cluster.options.redisOptions, connectionName },
  });
  return duplicate as unknown as Redis;
}
