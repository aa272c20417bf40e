/**
 * The shape of the validated configuration. Each field is filled by one row of the settings table (`settings/`),
 * which names it in its `at`; `settings.spec.ts` checks that every field has exactly one row.
 */
import type { AlgoName, BackendPlace } from '@shieldx/lb';
import type { SigningKey } from '@shieldx/ledger';
import type { KeyObject } from 'node:crypto';

/**
 * A pool as configured: backend URLs (normalised), optional algorithm, weights by URL and, for backends given as
 * objects in ORCH_BACKENDS_JSON, their zone, region and cost by URL.
 */
export interface PoolConfig {
  readonly urls: readonly string[];
  readonly algo?: AlgoName;
  readonly weights: ReadonlyMap<string, number>;
  readonly places: ReadonlyMap<string, BackendPlace>;
}

/** Where a request's tenant comes from (ORCH_TENANT_FROM). */
export type TenantSource = 'claimed' | 'san' | 'admission' | 'dpop';
/** Every {@link TenantSource}. */
export const TENANT_SOURCES: readonly TenantSource[] = ['claimed', 'san', 'admission', 'dpop'];

/** Log levels the orchestrator accepts. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Every {@link LogLevel}, quietest last. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * The samplers of OTEL_TRACES_SAMPLER (OpenTelemetry's names): every trace, none, a share of trace ids, or, for the
 * `parentbased_` ones, the caller's sampling decision when its `traceparent` carries one and the named sampler for
 * the requests that start a trace.
 */
export const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TraceSampler = (typeof TRACE_SAMPLERS)[number];

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
  /** Rollouts to run (ORCH_ROLLOUTS): pool → the body of `PUT /admin/rollouts/<pool>`, checked when it starts. */
  readonly rollouts: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
  readonly lb: {
    readonly algo: AlgoName;
    readonly connPenalty: number;
    /** Latency objective of the `cost` algorithm, ms (ORCH_COST_LATENCY_SLO). */
    readonly costLatencySloMs: number;
    /** EWMA decay time constant in ms (ORCH_EWMA_DECAY). */
    readonly ewmaDecayMs: number;
    /** Share of eligible backends under which a pool balances over all of its backends. */
    readonly panicThreshold: number;
  };
  /** Locality-aware routing: where this gateway runs, and where its clients' regions come from. */
  readonly locality: {
    /** This gateway's zone (ORCH_ZONE); unset = unknown. */
    readonly zone?: string;
    /** This gateway's region (ORCH_REGION); unset = unknown. */
    readonly region?: string;
    /** Header naming the client's region, believed only from ORCH_TRUSTED_PROXIES, lowercased; unset = not read. */
    readonly clientRegionHeader?: string;
    /** File of `CIDR region` lines giving the client's region by its IP (ORCH_CLIENT_REGION_TABLE); unset = none. */
    readonly clientRegionTable?: string;
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
    /** Most WebSocket tunnels open through `/proxy` at once (ORCH_PROXY_MAX_TUNNELS). */
    readonly maxTunnels: number;
    /** A tunnel with no byte either way for this long is closed, ms. */
    readonly tunnelIdleTimeoutMs: number;
  };
  readonly route: { readonly maxBytes: number };
  /** Traffic mirroring of `/proxy` (ORCH_MIRROR_*). */
  readonly mirror: {
    /** Source pool → where a copy of a share of its requests goes. */
    readonly routes: ReadonlyMap<string, MirrorRoute>;
    /** Largest request body copied; larger ones are not mirrored. */
    readonly maxBodyBytes: number;
    /** Mirrored requests in flight at once. */
    readonly maxInFlight: number;
    /** Longest a mirrored request may take, ms. */
    readonly timeoutMs: number;
  };
  readonly rateLimit: {
    readonly ipPerMinute: number;
    readonly ipPerMinuteDegraded: number;
    readonly tenantPerMinute: number;
    /** Per-tenant figures (tokens per minute, bucket size the same) replacing `tenantPerMinute` (ORCH_TENANT_LIMITS). */
    readonly tenantOverrides: ReadonlyMap<string, number>;
    readonly trustedProxies: readonly string[];
    /** IPv6 clients are counted by their network of this many bits (ORCH_IPV6_CLIENT_PREFIX). */
    readonly ipv6ClientPrefix: number;
    /** While Redis is unreachable: `open` = in-process buckets per instance, `closed` = refuse (429). */
    readonly redisFailure: 'open' | 'closed';
    /** A batch of Redis takes goes out once it holds this many buckets (ORCH_RATELIMIT_REDIS_BATCH); 1: no batching. */
    readonly redisBatch: number;
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
    /** Candidate policy evaluated beside the active one (`.wasm`, bundle `.tar.gz`, or base-rules `.json`). */
    readonly shadowPath?: string;
    /** Most requests waiting for the candidate's evaluation; beyond, they are shed and counted. */
    readonly shadowQueue: number;
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
    /** Public keys (Ed25519 or P-256) that verify user assertions of the admin UI (ORCH_ADMIN_USER_KEYS). */
    readonly userKeys: readonly KeyObject[];
    /** The `iss` a user assertion must carry (ORCH_ADMIN_USER_ISSUER). */
    readonly userIssuer: string;
    /** The `aud` a user assertion must carry (ORCH_ADMIN_USER_AUDIENCE). */
    readonly userAudience: string;
    /** Refuse admin calls that carry no user assertion (ORCH_ADMIN_REQUIRE_USER). */
    readonly requireUser: boolean;
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
    /** Which requests are traced (OTEL_TRACES_SAMPLER, the OpenTelemetry names). */
    readonly sampler: TraceSampler;
    /** The share of traces kept by the ratio samplers, 0-1 (OTEL_TRACES_SAMPLER_ARG). */
    readonly samplerRatio: number;
  };
  readonly log: { readonly level: LogLevel; readonly fullIp: boolean; readonly dataPlaneContext: boolean };
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
    /** This instance may decide rollouts (hold the decider's lease) with Redis (ORCH_ROLLOUT_DECIDER). */
    readonly rolloutDecider: boolean;
  };
  /** Adaptive rate limiting (ORCH_ADAPTIVE): per-key baselines, tightening of keys far above them. */
  readonly adaptive: {
    readonly mode: 'off' | 'shadow' | 'enforce';
    readonly sensitivity: number;
    readonly minLearningMs: number;
    readonly tightenFactor: number;
    readonly recoveryMs: number;
  };
  /** The external threat-score service consulted for the client IP of data-plane requests (off without a URL). */
  readonly threat: {
    /** Base URL (ORCH_THREAT_URL), asked `GET <url>?ip=<ip>&tenant=<tenant>`. Unset = no threat scores. */
    readonly url?: string;
    /** Time budget of one call, ms (ORCH_THREAT_TIMEOUT). */
    readonly timeoutMs: number;
    /** What a request gets when the service fails or is out of budget (ORCH_THREAT_ON_ERROR). */
    readonly onError: ThreatFailMode;
    /** How long a score is reused for the same IP, ms (ORCH_THREAT_CACHE_TTL). */
    readonly cacheTtlMs: number;
    /** Most IPs whose score is kept (ORCH_THREAT_CACHE_SIZE); the least recently used goes beyond it. */
    readonly cacheSize: number;
  };
  /** The external quota service checked before requests of some scopes (off without a URL). */
  readonly quota: {
    /** URL (ORCH_QUOTA_URL), asked `POST <url>` with `{tenant, scope, cost}`. Unset = no quota checks. */
    readonly url?: string;
    /** Scopes whose requests are checked (ORCH_QUOTA_SCOPES; `*` = every scope), besides decisions with a cost. */
    readonly scopes: readonly string[];
    /** Time budget of one call, ms (ORCH_QUOTA_TIMEOUT). */
    readonly timeoutMs: number;
    /** What a request gets when the service fails or is out of budget (ORCH_QUOTA_ON_ERROR). */
    readonly onError: 'allow' | 'deny';
  };
  /** The breaker in front of each external advisor (threat, quota). */
  readonly advisors: {
    /** Consecutive failures that open it (ORCH_ADVISOR_BREAKER_FAILS). */
    readonly breakerFails: number;
    /** First open period, doubled after each failed trial up to 60 s, ms (ORCH_ADVISOR_BREAKER_OPEN_FOR). */
    readonly breakerOpenForMs: number;
  };
  /** Start the built-in demo backends and pools (dev only). */
  readonly demo: boolean;
}

/** ORCH_THREAT_ON_ERROR: go on without a score, refuse (503), or go on with a fixed score. */
export type ThreatFailMode =
  { readonly kind: 'allow' } | { readonly kind: 'deny' } | { readonly kind: 'score'; readonly score: number };

/** Environment-like input: variable name → value. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Reads a file's text; injected so tests can supply files without touching the disk. */
export type ReadText = (path: string) => string;

/** What `loadConfig` returns: the configuration and notices worth logging at boot. */
export interface LoadedConfig {
  readonly config: OrchestratorConfig;
  readonly warnings: readonly string[];
}

/** `ORCH_MIRROR_<POOL>=<to>:<percent>`: a copy of `percent` % of a pool's `/proxy` requests goes to pool `to`. */
export interface MirrorRoute {
  readonly to: string;
  readonly percent: number;
}
