import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { isAlgoName, type AlgoName } from '@shieldx/lb';
import { parseSigningKey, type SigningKey } from '@shieldx/ledger';
import { normalizeDnsName, normalizeUri, SanAllowlist, TrustedProxies } from '@shieldx/security';
import { parse as parseYaml } from 'yaml';
import {
  parseBackendUrl,
  parseDuration,
  parseFlag,
  parseInteger,
  parseList,
  parseNumber,
  parseRedisUrl,
  parseTenantBindings,
  parseTenantLimits,
  parseTenantList,
  parseWeights,
} from './parse';
import { SERVICE_PATTERN } from '../validation/names';

/** A pool as configured: backend URLs (normalised), optional algorithm and weights by URL. */
export interface PoolConfig {
  readonly urls: readonly string[];
  readonly algo?: AlgoName;
  readonly weights: ReadonlyMap<string, number>;
}

/** Where a request's tenant comes from (ORCH_TENANT_FROM). */
export type TenantSource = 'claimed' | 'san' | 'admission' | 'dpop';
/** Every {@link TenantSource}. */
export const TENANT_SOURCES: readonly TenantSource[] = ['claimed', 'san', 'admission', 'dpop'];

/** Log levels the orchestrator accepts. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The whole validated configuration. Durations are milliseconds; rates are tokens per minute. */
export interface OrchestratorConfig {
  readonly listen: { readonly host: string; readonly port: number; readonly insecure: boolean };
  /**
   * Plain-HTTP listener serving only `/healthz`, `/readyz` and `/metrics` (ORCH_OPS_PORT; unset = off), for
   * Kubernetes probes and Prometheus, which present no client certificate; on ORCH_OPS_HOST (default ORCH_HOST).
   */
  readonly ops: { readonly port?: number; readonly host: string };
  readonly tls: {
    readonly certFile?: string;
    readonly keyFile?: string;
    readonly clientCaFile?: string;
    readonly allowedSanPrefixes: readonly string[];
  };
  readonly pools: ReadonlyMap<string, PoolConfig>;
  readonly lb: {
    readonly algo: AlgoName;
    readonly connPenalty: number;
    /** EWMA decay time constant in ms (docs/configuration.md: ORCH_EWMA_DECAY). */
    readonly ewmaDecayMs: number;
    /** Share of eligible backends under which a pool balances over all of its backends. */
    readonly panicThreshold: number;
  };
  readonly health: {
    readonly everyMs: number;
    readonly timeoutMs: number;
    readonly path: string;
    readonly degradedRatio: number;
  };
  readonly breaker: { readonly fails: number; readonly openForMs: number };
  readonly proxy: {
    /** Time to open a connection to a backend. */
    readonly connectTimeoutMs: number;
    /** Time from sending the request to the backend's response headers. */
    readonly headersTimeoutMs: number;
    /** Longest silence between two chunks of a backend's response body. */
    readonly bodyTimeoutMs: number;
    /** Most connections to one backend. */
    readonly maxConnections: number;
    /** Retries of an idempotent, bodiless request on another backend (0 = off). */
    readonly retries: number;
    /** Retries in flight may be at most this share of active proxied requests (at least 3). */
    readonly retryBudget: number;
    /** Never let outlier detection eject more than this share of a pool (at least one backend). */
    readonly maxEjection: number;
    /** On shutdown, how long in-flight requests may take to finish. */
    readonly shutdownGraceMs: number;
    /** Longest wait for a free connection to the chosen backend before the request is refused (503), ms. */
    readonly queueTimeoutMs: number;
    /** Share of one backend's connections that one client IP may hold at once (at least one connection). */
    readonly clientShare: number;
  };
  readonly route: { readonly maxBytes: number };
  readonly rateLimit: {
    readonly ipPerMinute: number;
    readonly ipPerMinuteDegraded: number;
    readonly tenantPerMinute: number;
    /** Per-tenant figures (tokens per minute, bucket size the same) replacing `tenantPerMinute` (ORCH_TENANT_LIMITS). */
    readonly tenantOverrides: ReadonlyMap<string, number>;
    readonly trustedProxies: readonly string[];
    /** While Redis is unreachable: `open` = in-process buckets per instance, `closed` = refuse (429). */
    readonly redisFailure: 'open' | 'closed';
  };
  readonly redis: {
    /**
     * Normalised `redis://` or `rediss://` URL (REDIS_ADDR or REDIS_URL; with REDIS_CLUSTER its first node); unset =
     * everything in-process.
     */
    readonly url?: string;
    /** Seed nodes of a Redis Cluster (REDIS_CLUSTER), normalised URLs; unset = one Redis server at `url`. */
    readonly cluster?: readonly string[];
    /** Bound on each Redis command (ORCH_REDIS_TIMEOUT), ms; the connection attempt gets 4× that, at least 1 s. */
    readonly timeoutMs: number;
  };
  readonly policy: {
    readonly path?: string;
    readonly opaPath?: string;
    readonly opaEntrypoint: string;
    readonly opaEnforce: boolean;
    readonly cacheTtlMs: number;
    readonly cacheMax: number;
    readonly divertPool?: string;
    readonly tarpitMax: number;
    /** What decides when OPA fails to evaluate in enforce mode: `deny` (fail closed, default) or `allow`. */
    readonly onError: 'deny' | 'allow';
    /** An OPA evaluation longer than this (ms) counts as failed. */
    readonly evalBudgetMs: number;
  };
  readonly admission: {
    readonly secrets: readonly string[];
    /** Key id of each secret, by position (ORCH_ADMISSION_KEY_IDS; default `1`, `2`, …): for tenant bindings. */
    readonly keyIds: readonly string[];
    readonly header: string;
    readonly skewMs: number;
  };
  readonly dpop: { readonly required: boolean; readonly nonce: boolean; readonly publicUrl?: string };
  /** Used admission nonces and DPoP jtis: while Redis fails, `closed` refuses proofs (401), `open` checks in-process. */
  readonly replay: {
    readonly redisFailure: 'open' | 'closed';
    /** Most live keys the in-process replay store holds (ORCH_REPLAY_MAX_KEYS). */
    readonly maxKeys: number;
    /** Share of `maxKeys` one client IP may hold (ORCH_REPLAY_CLIENT_SHARE). */
    readonly clientShare: number;
  };
  /**
   * Where the tenant of a request comes from (ORCH_TENANT_FROM): `claimed` = what the caller writes (body or X-Tenant);
   * `san`, `admission`, `dpop` = bound to that authenticated identity, through `bindings` when it names it.
   */
  readonly tenant: {
    readonly from: TenantSource;
    /** Identity (SAN, admission key id, DPoP thumbprint) → tenant (ORCH_TENANT_BINDINGS). */
    readonly bindings: ReadonlyMap<string, string>;
    /** Tenants that may be served; unset = any (ORCH_TENANTS). */
    readonly known?: ReadonlySet<string>;
  };
  readonly admin: {
    readonly token?: string;
    readonly allowPrivate: boolean;
    /** Client-certificate URI/DNS SANs (exact, or prefixes ending in `/`) admitted to /admin/* (ORCH_ADMIN_SANS). */
    readonly sans: readonly string[];
  };
  readonly ledger: {
    readonly path: string;
    /** Signs checkpoints (ORCH_LEDGER_SIGNING_KEY); never logged (its JSON form is redacted). */
    readonly signingKey?: SigningKey;
    /** With a signing key: a signed checkpoint at least every this many entries (ORCH_LEDGER_CHECKPOINT_EVERY). */
    readonly checkpointEvery: number;
    /** File holding the signed head of the chain, outside the ledger (ORCH_LEDGER_HEAD_PATH; default `<path>.head`). */
    readonly headPath: string;
    /** Accept a ledger whose head file is gone though it has had one, once, by operator decision (ORCH_LEDGER_ACCEPT_HEADLESS). */
    readonly acceptHeadless: boolean;
    /** Rotate the active file before it exceeds this many bytes; 0 = never (ORCH_LEDGER_ROTATE_BYTES). */
    readonly rotateBytes: number;
    /** Entries per write + fdatasync (ORCH_LEDGER_BATCH). */
    readonly batchMaxEntries: number;
    /** Longest wait of an entry in a non-full batch, ms (ORCH_LEDGER_FLUSH_INTERVAL). */
    readonly flushIntervalMs: number;
    /** Identical events within this window become one entry with a count, ms; 0 = off (ORCH_LEDGER_AGGREGATE_WINDOW). */
    readonly aggregateWindowMs: number;
    /** Entries per event type per second; beyond it, one `audit.suppressed` summary (ORCH_LEDGER_MAX_PER_SECOND). */
    readonly maxPerTypePerSecond: number;
  };
  /** OpenTelemetry tracing: on only when an OTLP endpoint is configured. */
  readonly tracing: {
    /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans go to `<endpoint>/v1/traces`. Unset = tracing off. */
    readonly otlpEndpoint?: string;
    /** `service.name` of the spans (OTEL_SERVICE_NAME). */
    readonly serviceName: string;
  };
  readonly log: { readonly level: LogLevel; readonly fullIp: boolean };
  /** Scale-out: worker processes on this host, and coherence between instances through Redis. */
  readonly cluster: {
    /** Worker processes sharing the port (ORCH_WORKERS, `auto` = available cores); 1 = this process serves alone. */
    readonly workers: number;
    /** This process's worker slot, 1..workers, set by the primary for each worker (ORCH_WORKER_INDEX); else unset. */
    readonly workerIndex?: number;
    /**
     * Name of this instance in the shared channels and the audit stream (ORCH_INSTANCE_ID; default
     * `<hostname>:<pid>`); a worker appends `/w<slot>` so that workers of one host are told apart.
     */
    readonly instanceId: string;
    /** Redis Stream that mirrors the audit entries of every instance (ORCH_AUDIT_STREAM). */
    readonly auditStream: string;
    /** Approximate length cap of that stream (`XADD MAXLEN ~`, ORCH_AUDIT_STREAM_MAXLEN); 0 = no mirror. */
    readonly auditStreamMaxLen: number;
    /** How often the shared pool version is compared with the applied one, ms (ORCH_CLUSTER_RESYNC_EVERY). */
    readonly resyncEveryMs: number;
  };
  /** Start the built-in demo backends and pools (dev only). */
  readonly demo: boolean;
}

/** Thrown when configuration is invalid; `problems` holds one line per bad key. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`,
    );
    this.name = 'ConfigError';
  }
}

/** Variables the orchestrator reads (besides the ORCH_POOL_* families). Unknown ORCH_* names are reported. */
export const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'ORCH_CONFIG',
  'ORCH_PORT',
  'ORCH_HOST',
  'ORCH_ALLOW_INSECURE',
  'ORCH_TLS_CERT_FILE',
  'ORCH_TLS_KEY_FILE',
  'ORCH_TLS_CLIENT_CA_FILE',
  'ORCH_ALLOWED_CLIENT_SAN_PREFIXES',
  'ORCH_BACKENDS_JSON',
  'ORCH_LB_ALGO',
  'ORCH_P2C_CONN_PENALTY',
  'ORCH_EWMA_DECAY',
  'ORCH_PANIC_THRESHOLD',
  'ORCH_HEALTH_EVERY',
  'ORCH_HEALTH_TIMEOUT',
  'ORCH_HEALTH_PATH',
  'ORCH_CB_FAILS',
  'ORCH_CB_OPEN_FOR',
  'ORCH_PROXY_CONNECT_TIMEOUT',
  'ORCH_PROXY_TIMEOUT',
  'ORCH_PROXY_BODY_TIMEOUT',
  'ORCH_PROXY_MAX_CONNECTIONS',
  'ORCH_PROXY_RETRIES',
  'ORCH_RETRY_BUDGET',
  'ORCH_OUTLIER_MAX_EJECTION',
  'ORCH_SHUTDOWN_GRACE',
  'ORCH_PROXY_QUEUE_TIMEOUT',
  'ORCH_PROXY_CLIENT_SHARE',
  'ORCH_REPLAY_MAX_KEYS',
  'ORCH_REPLAY_CLIENT_SHARE',
  'ORCH_TENANT_FROM',
  'ORCH_TENANT_BINDINGS',
  'ORCH_TENANTS',
  'ORCH_LEDGER_CHECKPOINT_EVERY',
  'ORCH_LEDGER_HEAD_PATH',
  'ORCH_LEDGER_ACCEPT_HEADLESS',
  'ORCH_MAX_ROUTE_BYTES',
  'ORCH_IP_BURST',
  'ORCH_IP_BURST_DEGRADED',
  'ORCH_HEALTH_DEGRADED_RATIO',
  'ORCH_TENANT_BURST',
  'ORCH_TRUSTED_PROXIES',
  'REDIS_ADDR',
  'REDIS_URL',
  'ORCH_REDIS_TIMEOUT',
  'ORCH_TENANT_LIMITS',
  'ORCH_RATELIMIT_REDIS_FAILURE',
  'ORCH_POLICY_PATH',
  'ORCH_OPA_POLICY_PATH',
  'ORCH_OPA_ENTRYPOINT',
  'ORCH_OPA_ENFORCE',
  'ORCH_OPA_CACHE_TTL',
  'ORCH_OPA_CACHE_MAX',
  'ORCH_POLICY_ON_ERROR',
  'ORCH_OPA_EVAL_BUDGET',
  'ORCH_DIVERT_POOL',
  'ORCH_TARPIT_MAX',
  'ADMISSION_SECRET',
  'ADMISSION_HEADER',
  'ORCH_ADMISSION_SKEW',
  'ORCH_ADMISSION_KEY_IDS',
  'ORCH_DPOP_REQUIRED',
  'ORCH_DPOP_NONCE',
  'ORCH_PUBLIC_URL',
  'ORCH_REPLAY_REDIS_FAILURE',
  'ORCH_ADMIN_TOKEN',
  'ORCH_ADMIN_ALLOW_PRIVATE',
  'ORCH_ADMIN_SANS',
  'ORCH_LEDGER_PATH',
  'ORCH_LEDGER_SIGNING_KEY',
  'ORCH_LEDGER_ROTATE_BYTES',
  'ORCH_LEDGER_BATCH',
  'ORCH_LEDGER_FLUSH_INTERVAL',
  'ORCH_LEDGER_AGGREGATE_WINDOW',
  'ORCH_LEDGER_MAX_PER_SECOND',
  'ORCH_LOG_LEVEL',
  'ORCH_LOG_FULL_IP',
  'ORCH_DEMO',
  'REDIS_CLUSTER',
  'ORCH_OPS_PORT',
  'ORCH_OPS_HOST',
  'ORCH_WORKERS',
  'ORCH_WORKER_INDEX',
  'ORCH_INSTANCE_ID',
  'ORCH_AUDIT_STREAM',
  'ORCH_AUDIT_STREAM_MAXLEN',
  'ORCH_CLUSTER_RESYNC_EVERY',
]);

const POOL_NAME = SERVICE_PATTERN;
const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;
const ENTRYPOINT = /^[A-Za-z0-9_]+(\/[A-Za-z0-9_]+)*$/;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
/** Most worker processes ORCH_WORKERS may ask for. */
const MAX_WORKERS = 64;
/** Instance ids and stream names: printable, no spaces (they are Redis keys and message fields). */
const CLUSTER_NAME = /^[\x21-\x7e]{1,128}$/;

/** Environment-like input: variable name → value. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Reads a file's text; injected so tests can supply files without touching the disk. */
export type ReadText = (path: string) => string;

/** What {@link loadConfig} returns: the configuration and notices worth logging at boot. */
export interface LoadedConfig {
  readonly config: OrchestratorConfig;
  readonly warnings: readonly string[];
}

/**
 * Validates the environment (and the optional `ORCH_CONFIG` YAML/JSON file of the same keys; the environment wins)
 * into one typed object. Every bad key is collected; if any, a single {@link ConfigError} names them all.
 */
export function loadConfig(processEnv: Env, readText: ReadText = (path) => readFileSync(path, 'utf8')): LoadedConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  const env = mergeConfigFile(processEnv, readText, problems);

  function read<T>(key: string, fallback: T, parse: (raw: string) => T): T {
    const raw = env[key];
    if (raw === undefined || raw.trim() === '') return fallback;
    try {
      return parse(raw);
    } catch (error) {
      problems.push(`${key}: ${(error as Error).message}`);
      return fallback;
    }
  }
  const optional = (key: string): string | undefined => {
    const raw = env[key]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const algo = (raw: string): AlgoName => {
    const name = raw.trim();
    if (!isAlgoName(name)) throw new Error(`'${raw}' is not one of round_robin, least_conn, ewma, p2c, rendezvous`);
    return name;
  };

  for (const key of Object.keys(env)) {
    if (key.startsWith('ORCH_') && !KNOWN_KEYS.has(key) && !key.startsWith('ORCH_POOL_')) {
      warnings.push(`${key} is not a ShieldX setting and is ignored`);
    }
  }

  const insecure = read('ORCH_ALLOW_INSECURE', false, parseFlag);
  const tls = {
    certFile: optional('ORCH_TLS_CERT_FILE'),
    keyFile: optional('ORCH_TLS_KEY_FILE'),
    clientCaFile: optional('ORCH_TLS_CLIENT_CA_FILE'),
    allowedSanPrefixes: read('ORCH_ALLOWED_CLIENT_SAN_PREFIXES', [] as string[], (raw) => {
      const list = parseList(raw);
      new SanAllowlist(list);
      return list;
    }),
  };
  const tlsFiles = [tls.certFile, tls.keyFile, tls.clientCaFile].filter((f) => f !== undefined).length;
  if (tlsFiles !== 0 && tlsFiles !== 3) {
    problems.push('ORCH_TLS_CERT_FILE, ORCH_TLS_KEY_FILE, ORCH_TLS_CLIENT_CA_FILE: set all three or none');
  }
  if (tlsFiles === 0 && !insecure) {
    problems.push(
      'ORCH_TLS_CERT_FILE/ORCH_TLS_KEY_FILE/ORCH_TLS_CLIENT_CA_FILE are unset: set them for TLS 1.3 with client certificates, ' +
        'or set ORCH_ALLOW_INSECURE=1 for plain HTTP (development only)',
    );
  }
  if (tlsFiles === 3 && insecure) {
    warnings.push('ORCH_ALLOW_INSECURE=1 is ignored: the TLS files are set, so the listener serves TLS 1.3 with mTLS');
  }
  if (tlsFiles === 0 && tls.allowedSanPrefixes.length > 0) {
    warnings.push('ORCH_ALLOWED_CLIENT_SAN_PREFIXES has no effect without TLS (ORCH_TLS_* files)');
  }

  const trustedProxies = read('ORCH_TRUSTED_PROXIES', [] as string[], (raw) => {
    const list = parseList(raw);
    new TrustedProxies(list);
    return list;
  });

  const lbAlgo = read('ORCH_LB_ALGO', 'ewma', algo);
  const pools = readPools(env, algo, problems);

  const divertPool = read('ORCH_DIVERT_POOL', undefined as string | undefined, (raw) => {
    const name = raw.trim();
    if (!POOL_NAME.test(name)) throw new Error(`'${raw}' is not a pool name (${POOL_NAME.source})`);
    return name;
  });

  const workerIndex = read('ORCH_WORKER_INDEX', undefined as number | undefined, (raw) =>
    parseInteger(raw, 1, MAX_WORKERS),
  );
  const ledgerPath = optional('ORCH_LEDGER_PATH') ?? 'data/ledger-orchestrator.jsonl';
  const tenantFrom = read<TenantSource>('ORCH_TENANT_FROM', 'claimed', (raw) => {
    const source = raw.trim().toLowerCase();
    if (!(TENANT_SOURCES as readonly string[]).includes(source))
      throw new Error(`'${raw}' is not one of ${TENANT_SOURCES.join(', ')}`);
    return source as TenantSource;
  });
  const tenantBindings = read('ORCH_TENANT_BINDINGS', new Map<string, string>(), parseTenantBindings);
  const admissionSecrets = read('ADMISSION_SECRET', [] as string[], (raw) => {
    const secrets = parseList(raw);
    if (secrets.some((s) => s.length < 16)) throw new Error('each secret must be at least 16 characters');
    return secrets;
  });
  const listenHost = read('ORCH_HOST', insecure && tlsFiles === 0 ? '127.0.0.1' : '0.0.0.0', (raw) => raw.trim());

  const config: OrchestratorConfig = {
    listen: {
      host: listenHost,
      port: read('ORCH_PORT', 8080, (raw) => parseInteger(raw, 0, 65535)),
      insecure: insecure && tlsFiles === 0,
    },
    ops: {
      port: read('ORCH_OPS_PORT', undefined as number | undefined, (raw) => parseInteger(raw, 0, 65535)),
      host: read('ORCH_OPS_HOST', listenHost, (raw) => raw.trim()),
    },
    tls,
    pools,
    lb: {
      algo: lbAlgo,
      connPenalty: read('ORCH_P2C_CONN_PENALTY', 5, (raw) => parseNumber(raw, 0, 1000)),
      ewmaDecayMs: read('ORCH_EWMA_DECAY', parseEwmaDecay('0.3'), parseEwmaDecay),
      panicThreshold: read('ORCH_PANIC_THRESHOLD', 0.5, (raw) => parseNumber(raw, 0, 1)),
    },
    health: {
      everyMs: read('ORCH_HEALTH_EVERY', 5000, positiveDuration),
      timeoutMs: read('ORCH_HEALTH_TIMEOUT', 1500, positiveDuration),
      path: read('ORCH_HEALTH_PATH', '/healthz', (raw) => {
        if (!/^\/[\x21-\x7e]{0,255}$/.test(raw)) throw new Error(`'${raw}' must be a path starting with /`);
        return raw;
      }),
      degradedRatio: read('ORCH_HEALTH_DEGRADED_RATIO', 0.5, (raw) => parseNumber(raw, 0, 1)),
    },
    breaker: {
      fails: read('ORCH_CB_FAILS', 3, (raw) => parseInteger(raw, 1, 1000)),
      openForMs: read('ORCH_CB_OPEN_FOR', 15_000, positiveDuration),
    },
    proxy: {
      connectTimeoutMs: read('ORCH_PROXY_CONNECT_TIMEOUT', 2000, positiveDuration),
      headersTimeoutMs: read('ORCH_PROXY_TIMEOUT', 15_000, positiveDuration),
      bodyTimeoutMs: read('ORCH_PROXY_BODY_TIMEOUT', 30_000, positiveDuration),
      maxConnections: read('ORCH_PROXY_MAX_CONNECTIONS', 128, (raw) => parseInteger(raw, 1, 100_000)),
      retries: read('ORCH_PROXY_RETRIES', 1, (raw) => parseInteger(raw, 0, 5)),
      retryBudget: read('ORCH_RETRY_BUDGET', 0.5, (raw) => parseNumber(raw, 0, 1)),
      maxEjection: read('ORCH_OUTLIER_MAX_EJECTION', 0.5, (raw) => parseNumber(raw, 0, 1)),
      shutdownGraceMs: read('ORCH_SHUTDOWN_GRACE', 10_000, positiveDuration),
      queueTimeoutMs: read('ORCH_PROXY_QUEUE_TIMEOUT', 5000, positiveDuration),
      clientShare: read('ORCH_PROXY_CLIENT_SHARE', 0.5, (raw) => {
        const share = parseNumber(raw, 0, 1);
        if (share <= 0) throw new Error(`'${raw}' must be a share in (0, 1]`);
        return share;
      }),
    },
    route: { maxBytes: read('ORCH_MAX_ROUTE_BYTES', 16_384, (raw) => parseInteger(raw, 256, 10 * 1024 * 1024)) },
    rateLimit: {
      ipPerMinute: read('ORCH_IP_BURST', 200, (raw) => parseInteger(raw, 1, 1e9)),
      ipPerMinuteDegraded: read('ORCH_IP_BURST_DEGRADED', 50, (raw) => parseInteger(raw, 1, 1e9)),
      tenantPerMinute: read('ORCH_TENANT_BURST', 1000, (raw) => parseInteger(raw, 1, 1e9)),
      tenantOverrides: read('ORCH_TENANT_LIMITS', new Map<string, number>(), parseTenantLimits),
      trustedProxies,
      redisFailure: read<'open' | 'closed'>('ORCH_RATELIMIT_REDIS_FAILURE', 'open', (raw) => {
        const mode = raw.trim().toLowerCase();
        if (mode !== 'open' && mode !== 'closed') throw new Error(`'${raw}' must be open or closed`);
        return mode;
      }),
    },
    redis: readRedis(read, optional, problems),
    policy: {
      path: optional('ORCH_POLICY_PATH'),
      opaPath: optional('ORCH_OPA_POLICY_PATH'),
      opaEntrypoint: read('ORCH_OPA_ENTRYPOINT', 'shieldx/routing/decision', (raw) => {
        if (!ENTRYPOINT.test(raw.trim()))
          throw new Error(`'${raw}' is not an entrypoint like shieldx/routing/decision`);
        return raw.trim();
      }),
      opaEnforce: read('ORCH_OPA_ENFORCE', false, parseFlag),
      cacheTtlMs: read('ORCH_OPA_CACHE_TTL', 2000, parseDuration),
      cacheMax: read('ORCH_OPA_CACHE_MAX', 10_000, (raw) => parseInteger(raw, 0, 10_000_000)),
      divertPool,
      tarpitMax: read('ORCH_TARPIT_MAX', 1000, (raw) => parseInteger(raw, 0, 1_000_000)),
      onError: read('ORCH_POLICY_ON_ERROR', 'deny', (raw) => {
        const mode = raw.trim().toLowerCase();
        if (mode !== 'deny' && mode !== 'allow') throw new Error(`'${raw}' must be deny or allow`);
        return mode;
      }),
      evalBudgetMs: read('ORCH_OPA_EVAL_BUDGET', 1000, positiveDuration),
    },
    admission: {
      secrets: admissionSecrets,
      keyIds: read(
        'ORCH_ADMISSION_KEY_IDS',
        admissionSecrets.map((_secret, i) => String(i + 1)),
        (raw) => {
          const ids = parseList(raw);
          if (ids.some((id) => !/^[A-Za-z0-9._-]{1,64}$/.test(id)))
            throw new Error('each key id must be 1-64 characters of A-Z a-z 0-9 . _ -');
          if (new Set(ids).size !== ids.length) throw new Error('key ids must differ');
          return ids;
        },
      ),
      header: read('ADMISSION_HEADER', 'X-ShieldX-Admission', (raw) => {
        if (!HEADER_NAME.test(raw.trim())) throw new Error(`'${raw}' is not a header name`);
        return raw.trim();
      }),
      skewMs: read('ORCH_ADMISSION_SKEW', 60_000, (raw) => parseInteger(raw, 1, 3600) * 1000),
    },
    dpop: {
      required: read('ORCH_DPOP_REQUIRED', false, parseFlag),
      nonce: read('ORCH_DPOP_NONCE', false, parseFlag),
      publicUrl: read('ORCH_PUBLIC_URL', undefined as string | undefined, (raw) => {
        const url = new URL(raw.trim());
        if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`'${raw}' must be an http(s) URL`);
        return url.origin;
      }),
    },
    replay: {
      redisFailure: read<'open' | 'closed'>('ORCH_REPLAY_REDIS_FAILURE', 'closed', (raw) => {
        const mode = raw.trim().toLowerCase();
        if (mode !== 'open' && mode !== 'closed') throw new Error(`'${raw}' must be open or closed`);
        return mode;
      }),
      maxKeys: read('ORCH_REPLAY_MAX_KEYS', 1_000_000, (raw) => parseInteger(raw, 1000, 100_000_000)),
      clientShare: read('ORCH_REPLAY_CLIENT_SHARE', 0.1, (raw) => {
        const share = parseNumber(raw, 0, 1);
        if (share <= 0) throw new Error(`'${raw}' must be a share in (0, 1]`);
        return share;
      }),
    },
    tenant: {
      from: tenantFrom,
      bindings: tenantFrom === 'san' ? sanBindings(tenantBindings, problems) : tenantBindings,
      known: read('ORCH_TENANTS', undefined as ReadonlySet<string> | undefined, parseTenantList),
    },
    admin: {
      token: read('ORCH_ADMIN_TOKEN', undefined as string | undefined, (raw) => {
        if (raw.trim().length < 16) throw new Error('must be at least 16 characters');
        return raw.trim();
      }),
      allowPrivate: read('ORCH_ADMIN_ALLOW_PRIVATE', false, parseFlag),
      sans: read('ORCH_ADMIN_SANS', [] as string[], (raw) => {
        const list = parseList(raw);
        new SanAllowlist(list);
        return list;
      }),
    },
    ledger: {
      path: workerIndex === undefined ? ledgerPath : workerLedgerPath(ledgerPath, workerIndex),
      signingKey: read('ORCH_LEDGER_SIGNING_KEY', undefined as SigningKey | undefined, parseLedgerSigningKey),
      acceptHeadless: read('ORCH_LEDGER_ACCEPT_HEADLESS', false, parseFlag),
      checkpointEvery: read('ORCH_LEDGER_CHECKPOINT_EVERY', 1000, (raw) => parseInteger(raw, 1, 1_000_000)),
      // Beside the ledger by default (`ledger verify <file>` looks there); an explicit path gets the worker's suffix.
      headPath: (() => {
        const head = optional('ORCH_LEDGER_HEAD_PATH');
        if (head === undefined)
          return `${workerIndex === undefined ? ledgerPath : workerLedgerPath(ledgerPath, workerIndex)}.head`;
        return workerIndex === undefined ? head : workerLedgerPath(head, workerIndex);
      })(),
      rotateBytes: read('ORCH_LEDGER_ROTATE_BYTES', 64 * 1024 * 1024, parseByteSize),
      batchMaxEntries: read('ORCH_LEDGER_BATCH', 256, (raw) => parseInteger(raw, 1, 65_536)),
      flushIntervalMs: read('ORCH_LEDGER_FLUSH_INTERVAL', 50, (raw) => {
        const ms = parseDuration(raw);
        if (ms > 10_000) throw new Error(`'${raw}' must be at most 10s`);
        return ms;
      }),
      aggregateWindowMs: read('ORCH_LEDGER_AGGREGATE_WINDOW', 10_000, (raw) => {
        const ms = parseDuration(raw);
        if (ms > 3_600_000) throw new Error(`'${raw}' must be at most 1h`);
        return ms;
      }),
      maxPerTypePerSecond: read('ORCH_LEDGER_MAX_PER_SECOND', 1000, (raw) => parseInteger(raw, 1, 1_000_000)),
    },
    tracing: {
      otlpEndpoint: read('OTEL_EXPORTER_OTLP_ENDPOINT', undefined as string | undefined, (raw) => {
        let url: URL;
        try {
          url = new URL(raw.trim());
        } catch {
          throw new Error(`'${raw}' is not a URL (http://host:4318)`);
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`'${raw}' must be an http(s) URL`);
        if (url.search !== '' || url.hash !== '') throw new Error(`'${raw}' must not have a query or fragment`);
        return url.href.replace(/\/+$/, '');
      }),
      serviceName: read('OTEL_SERVICE_NAME', 'shieldx-orchestrator', (raw) => {
        if (!/^[\x21-\x7e]{1,128}$/.test(raw.trim())) throw new Error(`'${raw}' must be 1-128 printable characters`);
        return raw.trim();
      }),
    },
    log: {
      level: read('ORCH_LOG_LEVEL', 'info', (raw) => {
        const level = raw.trim().toLowerCase();
        if (!(LOG_LEVELS as readonly string[]).includes(level))
          throw new Error(`'${raw}' is not one of ${LOG_LEVELS.join(', ')}`);
        return level as LogLevel;
      }),
      fullIp: read('ORCH_LOG_FULL_IP', false, parseFlag),
    },
    demo: read('ORCH_DEMO', false, parseFlag),
    cluster: {
      workers: read('ORCH_WORKERS', 1, parseWorkers),
      workerIndex,
      instanceId: `${read('ORCH_INSTANCE_ID', `${hostname()}:${process.pid}`, (raw) => {
        if (!CLUSTER_NAME.test(raw.trim())) throw new Error(`'${raw}' must be 1-128 printable characters, no spaces`);
        return raw.trim();
      })}${workerIndex === undefined ? '' : `/w${workerIndex}`}`,
      auditStream: read('ORCH_AUDIT_STREAM', 'shieldx:audit', (raw) => {
        if (!CLUSTER_NAME.test(raw.trim())) throw new Error(`'${raw}' must be 1-128 printable characters, no spaces`);
        return raw.trim();
      }),
      auditStreamMaxLen: read('ORCH_AUDIT_STREAM_MAXLEN', 100_000, (raw) => parseInteger(raw, 0, 100_000_000)),
      resyncEveryMs: read('ORCH_CLUSTER_RESYNC_EVERY', 5000, positiveDuration),
    },
  };

  if (tlsFiles === 0 && config.admin.sans.length > 0) {
    warnings.push('ORCH_ADMIN_SANS has no effect without TLS (ORCH_TLS_* files): no client certificate is verified');
  }
  if (config.rateLimit.ipPerMinuteDegraded > config.rateLimit.ipPerMinute) {
    problems.push('ORCH_IP_BURST_DEGRADED: must not exceed ORCH_IP_BURST');
  }
  if (config.admission.keyIds.length !== config.admission.secrets.length) {
    problems.push('ORCH_ADMISSION_KEY_IDS: name one key id per ADMISSION_SECRET entry, in the same order');
  }
  if (config.dpop.required && config.dpop.publicUrl === undefined) {
    problems.push(
      'ORCH_PUBLIC_URL: required with ORCH_DPOP_REQUIRED=1 — DPoP proofs name the URL they were made for (htu), and ' +
        'it is checked against this origin, never against the Host header a client sends',
    );
  }
  if (config.tenant.from === 'san' && tlsFiles === 0) {
    problems.push('ORCH_TENANT_FROM: san needs TLS with client certificates (ORCH_TLS_* files)');
  }
  if (config.tenant.from === 'admission' && config.admission.secrets.length === 0) {
    problems.push('ORCH_TENANT_FROM: admission needs ADMISSION_SECRET');
  }
  if (config.tenant.known !== undefined) {
    for (const [identity, tenant] of config.tenant.bindings) {
      if (!config.tenant.known.has(tenant))
        problems.push(`ORCH_TENANT_BINDINGS: '${identity}' is bound to '${tenant}', which ORCH_TENANTS does not list`);
    }
  }
  if (config.health.timeoutMs > config.health.everyMs) {
    problems.push('ORCH_HEALTH_TIMEOUT: must not exceed ORCH_HEALTH_EVERY');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, warnings };
}

/**
 * With ORCH_TENANT_FROM=san, binding keys are SANs: written as the guards compare them (a URI with its scheme and host
 * lower-cased, a DNS name lower-cased), so `SPIFFE://TD/sa/x` binds what the certificate's `spiffe://td/sa/x` proves.
 */
function sanBindings(bindings: ReadonlyMap<string, string>, problems: string[]): Map<string, string> {
  const normalised = new Map<string, string>();
  for (const [san, tenant] of bindings) {
    const key = san.includes(':') ? normalizeUri(san) : normalizeDnsName(san);
    if (key === undefined) problems.push(`ORCH_TENANT_BINDINGS: '${san}' is neither a URI nor a DNS name SAN`);
    else normalised.set(key, tenant);
  }
  return normalised;
}

/** ORCH_WORKERS: an integer 1..64, or `auto` (the cores Node says are available, at most 64). */
function parseWorkers(raw: string): number {
  const text = raw.trim().toLowerCase();
  if (text === 'auto') return Math.max(1, Math.min(MAX_WORKERS, availableParallelism()));
  return parseInteger(text, 1, MAX_WORKERS);
}

/**
 * A worker's own ledger file: `.w<slot>` before the extension (`data/ledger.jsonl` → `data/ledger.w2.jsonl`), so
 * workers never share a hash chain and a restarted worker continues its slot's chain.
 */
export function workerLedgerPath(path: string, slot: number): string {
  const name = basename(path);
  const ext = extname(name);
  return join(dirname(path), `${name.slice(0, name.length - ext.length)}.w${slot}${ext}`);
}

type Read = <T>(key: string, fallback: T, parse: (raw: string) => T) => T;

/**
 * REDIS_ADDR (or REDIS_URL), or REDIS_CLUSTER: a comma list of seed nodes of a Redis Cluster, each `host:port` or a
 * `redis(s)://` URL (user and password taken from the first). Both at once is an error.
 */
function readRedis(
  read: Read,
  optional: (key: string) => string | undefined,
  problems: string[],
): OrchestratorConfig['redis'] {
  const cluster = read('REDIS_CLUSTER', undefined as string[] | undefined, (raw) => {
    const nodes = parseList(raw).map(parseRedisUrl);
    if (nodes.length === 0) throw new Error('must list at least one node (host:port)');
    if (nodes.some((node) => /\/\d+$/.test(new URL(node).pathname))) {
      throw new Error('a Redis Cluster has no database numbers (drop the /<db>)');
    }
    return [...new Set(nodes)];
  });
  let url: string | undefined;
  if (cluster !== undefined) {
    if (optional('REDIS_ADDR') !== undefined || optional('REDIS_URL') !== undefined) {
      problems.push('REDIS_CLUSTER: set either REDIS_CLUSTER (a Redis Cluster) or REDIS_ADDR/REDIS_URL, not both');
    }
    url = cluster[0];
  } else {
    url =
      optional('REDIS_ADDR') !== undefined
        ? read('REDIS_ADDR', undefined as string | undefined, parseRedisUrl)
        : read('REDIS_URL', undefined as string | undefined, parseRedisUrl);
  }
  const timeoutMs = read('ORCH_REDIS_TIMEOUT', 250, positiveDuration);
  return cluster === undefined ? { url, timeoutMs } : { url, cluster, timeoutMs };
}

/**
 * ORCH_LEDGER_SIGNING_KEY: `hmac:<secret ≥ 16 bytes>` or `ed25519:<PKCS#8 PEM>` (a bare PEM too; `\n` escapes in a
 * one-line PEM are turned into newlines). The key's JSON form is `"[redacted]"`, so the configuration can be printed.
 * Error messages never repeat the value.
 */
function parseLedgerSigningKey(raw: string): SigningKey {
  const spec = raw.includes('-----BEGIN') ? raw.replace(/\\n/g, '\n') : raw;
  let key: SigningKey;
  try {
    key = parseSigningKey(spec, 'ORCH_LEDGER_SIGNING_KEY');
  } catch (error) {
    throw new Error((error as Error).message.replace(/^ORCH_LEDGER_SIGNING_KEY: /, ''));
  }
  const redacted = () => '[redacted]';
  Object.defineProperty(key, 'toJSON', { value: redacted, enumerable: false });
  Object.defineProperty(key, Symbol.for('nodejs.util.inspect.custom'), { value: redacted, enumerable: false });
  return key;
}

/** A byte count: an integer, optionally with a binary unit `k`, `m` or `g` (`64m` = 64 MiB); 0 allowed. */
function parseByteSize(raw: string): number {
  const match = /^(\d+)\s*([kmg]i?b?)?$/i.exec(raw.trim());
  if (match === null) throw new Error(`'${raw}' is not a size; write bytes or a number with k, m or g (64m)`);
  const unit = (match[2] ?? '').charAt(0).toLowerCase();
  const value = Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
  if (!Number.isSafeInteger(value) || value > 1024 ** 4) throw new Error(`'${raw}' is too large (at most 1024g)`);
  return value;
}

function positiveDuration(raw: string): number {
  const ms = parseDuration(raw);
  if (ms <= 0) throw new Error(`'${raw}' must be longer than zero`);
  return ms;
}

/**
/** The spacing of samples at which an ORCH_EWMA_DECAY weight is the share a new sample takes. */
const EWMA_REFERENCE_MS = 1000;

/**
 * ORCH_EWMA_DECAY is either a weight in (0, 1] — the share a new (faster) sample takes when it arrives 1 s after the
 * previous one, turned into a time constant τ = 1 s / −ln(1 − w), so the default 0.3 gives τ ≈ 2.8 s — or a decay
 * time with a unit (`10s`).
 */
function parseEwmaDecay(raw: string): number {
  if (/[a-z]$/i.test(raw.trim())) return positiveDuration(raw);
  const weight = parseNumber(raw, 0, 1);
  if (weight <= 0) throw new Error(`'${raw}' must be a weight in (0, 1] or a duration`);
  return weight === 1 ? 1 : EWMA_REFERENCE_MS / -Math.log(1 - weight);
}

function mergeConfigFile(processEnv: Env, readText: ReadText, problems: string[]): Env {
  const file = processEnv['ORCH_CONFIG']?.trim();
  if (file === undefined || file === '') return processEnv;
  let parsed: unknown;
  try {
    parsed = parseYaml(readText(file));
  } catch (error) {
    problems.push(`ORCH_CONFIG: cannot read '${file}': ${(error as Error).message.split('\n')[0]}`);
    return processEnv;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`ORCH_CONFIG: '${file}' must hold a mapping of setting names to values`);
    return processEnv;
  }
  const merged: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) merged[key] = value.map((item) => scalar(item)).join(',');
    else if (typeof value === 'object') merged[key] = JSON.stringify(value);
    else merged[key] = scalar(value);
  }
  return { ...merged, ...processEnv };
}

function scalar(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function readPools(env: Env, algo: (raw: string) => AlgoName, problems: string[]): Map<string, PoolConfig> {
  const urls = new Map<string, { urls: string[]; from: string }>();
  const algos = new Map<string, { algo: AlgoName; from: string }>();
  const weights = new Map<string, { weights: Map<string, number>; from: string }>();

  const addPool = (name: string, list: unknown, from: string): void => {
    if (!POOL_NAME.test(name)) {
      problems.push(`${from}: pool name '${name}' must match ${POOL_NAME.source}`);
      return;
    }
    if (urls.has(name)) {
      problems.push(`${from}: pool '${name}' is already defined by ${urls.get(name)?.from}`);
      return;
    }
    if (!Array.isArray(list) || list.some((u) => typeof u !== 'string')) {
      problems.push(`${from}: pool '${name}' must be a list of backend URLs`);
      return;
    }
    const parsed: string[] = [];
    for (const raw of list as string[]) {
      try {
        const url = parseBackendUrl(raw);
        if (parsed.includes(url)) throw new Error(`'${raw}' is listed twice`);
        parsed.push(url);
      } catch (error) {
        problems.push(`${from}: ${(error as Error).message}`);
      }
    }
    urls.set(name, { urls: parsed, from });
  };

  const json = env['ORCH_BACKENDS_JSON'];
  if (json !== undefined && json.trim() !== '') {
    try {
      const parsed: unknown = JSON.parse(json);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      for (const [name, list] of Object.entries(parsed)) addPool(name, list, 'ORCH_BACKENDS_JSON');
    } catch (error) {
      if (error instanceof SyntaxError || (error as Error).message === 'not an object') {
        problems.push('ORCH_BACKENDS_JSON: must be a JSON object {"pool": ["url", …]}');
      } else throw error;
    }
  }

  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('ORCH_POOL_') || value === undefined) continue;
    const rest = key.slice('ORCH_POOL_'.length);
    try {
      if (rest.startsWith('ALGO_')) {
        algos.set(rest.slice(5).toLowerCase(), { algo: algo(value), from: key });
      } else if (rest.startsWith('WEIGHTS_')) {
        weights.set(rest.slice(8).toLowerCase(), { weights: parseWeights(value), from: key });
      } else {
        addPool(rest.toLowerCase(), parseList(value), key);
      }
    } catch (error) {
      problems.push(`${key}: ${(error as Error).message}`);
    }
  }

  const pools = new Map<string, PoolConfig>();
  for (const [name, entry] of urls) {
    const weightMap = weights.get(name)?.weights ?? new Map<string, number>();
    for (const url of weightMap.keys()) {
      if (!entry.urls.includes(url))
        problems.push(`${weights.get(name)?.from}: '${url}' is not a backend of pool '${name}'`);
    }
    pools.set(name, { urls: entry.urls, algo: algos.get(name)?.algo, weights: weightMap });
  }
  for (const [name, { from }] of [...algos, ...weights]) {
    if (!urls.has(name)) problems.push(`${from}: no pool '${name}' is defined (set ORCH_POOL_${name.toUpperCase()})`);
  }
  return pools;
}
