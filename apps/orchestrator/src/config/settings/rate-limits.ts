/** Settings of the rate limits and of the Redis server that shares them. */
import {
  integerIn,
  numberIn,
  oneOf,
  parseFailureMode,
  parseRedisUrl,
  parseTenantLimits,
  positiveDuration,
} from '../parse';
import { setting, type ParsedSetting, type Section } from '../setting';
import { REDIS_CLUSTER } from './scale-out';

const perMinute = integerIn(1, 1e9);
const ADAPTIVE = [{ title: 'Adaptive limits', href: 'rate-limiting.md#adaptive-limits' }];

/** REDIS_URL: the older name of REDIS_ADDR, read only when neither REDIS_ADDR nor REDIS_CLUSTER is set. */
export const REDIS_URL: ParsedSetting<string | undefined> = setting({
  key: 'REDIS_URL',
  parse: parseRedisUrl,
  fallback: undefined,
  when: (ctx) => ctx.get(REDIS_CLUSTER) === undefined && ctx.raw(REDIS_ADDR) === undefined,
  doc: 'the same as `REDIS_ADDR`, read when `REDIS_ADDR` is unset',
});

/** The Redis server (or, with REDIS_CLUSTER, its first seed node). */
export const REDIS_ADDR: ParsedSetting<string | undefined> = setting({
  key: 'REDIS_ADDR',
  at: 'redis.url',
  parse: parseRedisUrl,
  fallback: undefined,
  when: (ctx) => ctx.get(REDIS_CLUSTER) === undefined,
  resolve: (addr, ctx) => ctx.get(REDIS_CLUSTER)?.[0] ?? addr ?? ctx.get(REDIS_URL),
  doc:
    '`host:port` (a bare host means port 6379), `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS). ' +
    "Unset: buckets live in each instance's memory",
});

/** Rate limits and Redis. */
export const RATE_LIMITS: Section = {
  title: 'Rate limits and Redis',
  lead: 'Behaviour: [Rate limiting](rate-limiting.md).',
  settings: [
    setting({
      key: 'ORCH_IP_BURST',
      at: 'rateLimit.ipPerMinute',
      parse: perMinute,
      default: '200',
      doc: 'tokens per minute per client IP (bucket size = the same figure)',
    }),
    setting({
      key: 'ORCH_IPV6_CLIENT_PREFIX',
      at: 'rateLimit.ipv6ClientPrefix',
      parse: integerIn(32, 128),
      default: '64',
      doc:
        'an IPv6 client is counted by its network of this many bits (a subscriber holds a whole /64 or more) for ' +
        "the per-IP bucket, the replay store's per-client share (never finer than a /64) and the per-client shares of " +
        'backend connections and WebSocket tunnels; 128 counts single addresses (a host using many addresses is then ' +
        'many clients for the bucket and those shares)',
      see: [{ title: 'IPv6 clients', href: 'rate-limiting.md#ipv6-clients' }],
    }),
    setting({
      key: 'ORCH_ADAPTIVE',
      at: 'adaptive.mode',
      parse: oneOf(['off', 'shadow', 'enforce']),
      default: 'off',
      doc:
        "adaptive rate limiting: learn each client IP's and tenant's usual rate and tighten the bucket of one far " +
        'above it and above its peers; `shadow` only records (events, metrics), `enforce` applies the factor',
      see: ADAPTIVE,
    }),
    setting({
      key: 'ORCH_ADAPTIVE_SENSITIVITY',
      at: 'adaptive.sensitivity',
      parse: numberIn(0.1, 10),
      default: '1',
      doc:
        'how readily a key is flagged: its rate over the last 3 s must exceed its baseline by `6 / sensitivity` ' +
        'standard deviations and be at least `1 + 2 / sensitivity` times it (3× at 1)',
      see: ADAPTIVE,
    }),
    setting({
      key: 'ORCH_ADAPTIVE_MIN_LEARNING',
      at: 'adaptive.minLearningMs',
      parse: positiveDuration,
      default: '2m',
      doc: 'how long a key is watched before it can be flagged',
      see: ADAPTIVE,
    }),
    setting({
      key: 'ORCH_ADAPTIVE_TIGHTEN_FACTOR',
      at: 'adaptive.tightenFactor',
      parse: numberIn(0.01, 0.99),
      default: '0.1',
      doc: "factor applied to a flagged key's bucket (rate and size)",
      see: ADAPTIVE,
    }),
    setting({
      key: 'ORCH_ADAPTIVE_RECOVERY',
      at: 'adaptive.recoveryMs',
      parse: positiveDuration,
      default: '1m',
      doc: "once a flagged key's rate is back near its baseline, the time over which its factor climbs back to 1",
      see: ADAPTIVE,
    }),
    setting({
      key: 'ORCH_IP_BURST_DEGRADED',
      at: 'rateLimit.ipPerMinuteDegraded',
      parse: perMinute,
      default: '50',
      doc:
        'the per-IP figure while the healthy ratio is under `ORCH_HEALTH_DEGRADED_RATIO`; must not exceed ' +
        '`ORCH_IP_BURST`',
    }),
    setting({
      key: 'ORCH_HEALTH_DEGRADED_RATIO',
      at: 'health.degradedRatio',
      parse: numberIn(0, 1),
      default: '0.5',
      doc: 'share of healthy backends under which `ORCH_IP_BURST_DEGRADED` applies',
    }),
    setting({
      key: 'ORCH_TENANT_BURST',
      at: 'rateLimit.tenantPerMinute',
      parse: perMinute,
      default: '1000',
      doc: 'tokens per minute per tenant',
    }),
    setting({
      key: 'ORCH_TENANT_LIMITS',
      at: 'rateLimit.tenantOverrides',
      parse: parseTenantLimits,
      fallback: () => new Map<string, number>(),
      doc:
        'per-tenant figures replacing `ORCH_TENANT_BURST`: JSON `{"acme": 5000, "tiny": 10}` or `acme=5000,tiny=10` ' +
        '(tenant names as in `/route`, integers 1–10⁹)',
    }),
    setting({
      key: 'ORCH_RATELIMIT_REDIS_FAILURE',
      at: 'rateLimit.redisFailure',
      parse: parseFailureMode,
      default: 'open',
      doc:
        'while Redis is unreachable: `open` = fall back to in-process buckets (limits hold per instance), ' +
        '`closed` = refuse data-plane requests with 429 `ratelimit_unavailable`',
    }),
    setting({
      key: 'ORCH_RATELIMIT_REDIS_BATCH',
      at: 'rateLimit.redisBatch',
      parse: integerIn(1, 1024),
      default: '32',
      doc:
        'Redis rate limits: the takes asked for during one turn of the event loop go out as one script call, sent ' +
        'as soon as it holds this many buckets (a request takes two: IP and tenant); `1` sends each request on its ' +
        'own (more Redis CPU)',
      see: [{ title: 'Redis', href: 'rate-limiting.md#redis-redisbucketstore' }],
    }),
    REDIS_ADDR,
    REDIS_URL,
    setting({
      key: 'ORCH_REDIS_TIMEOUT',
      at: 'redis.timeoutMs',
      parse: positiveDuration,
      default: '250ms',
      doc: 'bound on every Redis command (ioredis `commandTimeout`); the connection attempt gets 4× that, at least 1 s',
    }),
  ],
};
