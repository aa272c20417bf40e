/**
 * Injection token of the one shared ioredis client (`Redis`), or `null` when no Redis is configured (REDIS_ADDR /
 * REDIS_URL unset). Rate limits use it today; the replay store and config sync are meant to share it.
 */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');
