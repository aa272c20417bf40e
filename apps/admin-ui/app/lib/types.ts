/** Shapes of the orchestrator's admin API as the UI reads them (the UI talks to it over HTTP only). */

/** One backend in `GET /admin/pools`. */
export interface BackendView {
  url: string;
  healthy: boolean;
  ewma_ms: number;
  inflight: number;
  cb_state: BreakerState;
  weight: number;
  last_error: string | null;
  /** Zone, region and cost (per 1,000 requests), present only when set. */
  zone?: string;
  region?: string;
  cost?: number;
}

/** One pool in `GET /admin/pools`. */
export interface PoolView {
  name: string;
  algo: string;
  healthy: number;
  total: number;
  backends: BackendView[];
}

/** `GET /admin/pools`. */
export interface PoolsAnswer {
  health_ratio: number;
  pools: PoolView[];
}

/** A breaker's state name. */
export type BreakerState = 'closed' | 'open' | 'half_open';

/** One breaker in `GET /admin/breakers`. */
export interface BreakerView {
  pool: string;
  backend: string;
  state: BreakerState;
  failures: number;
  openForMs: number | null;
  nextTrialInMs: number | null;
  trialInFlight: boolean;
  healthy: boolean;
  lastError: string | null;
}

/** One transition, in `GET /admin/breakers` history and `breaker` events. */
export interface BreakerTransition {
  pool: string;
  backend: string;
  from: BreakerState;
  to: BreakerState;
  at: string;
  openForMs: number | null;
}

/** `GET /admin/breakers`. */
export interface BreakersAnswer {
  breakers: BreakerView[];
  history: BreakerTransition[];
}

/** `GET /admin/protection`: threat scores and quotas. */
export interface ProtectionAnswer {
  adaptive: {
    mode: 'off' | 'shadow' | 'enforce';
    tightened: {
      key: string;
      /** The instance whose model tightened it; with Redis every instance applies it. */
      instance: string;
      phase: string;
      baselineRate: number;
      currentRate: number;
      thresholdRate: number;
      factor: number;
      since: string;
    }[];
  };
  threat: {
    enabled: boolean;
    breaker: BreakerState;
    onError: string;
    recent: { ip: string; score: number; reasons: string[]; fetchedAt: string }[];
  };
  quota: { enabled: boolean; breaker: BreakerState; onError: string; scopes: string[] };
}

/** `GET /admin/policy`. */
export interface PolicyStatus {
  version: number;
  source: string;
  opaLoaded: boolean;
  enforce: boolean;
  lastReload: string | null;
  lastError: string | null;
  cache: { hits: number; misses: number; size: number };
}

/** A policy action. */
export type PolicyAction = 'allow' | 'deny' | 'divert' | 'tarpit';

/** `POST /admin/policy/reload`. */
export interface ReloadAnswer {
  reloaded: boolean;
  version: number;
  error?: string;
  status: PolicyStatus;
}

/** One overview sample (`metrics` events, `GET /admin/metrics`). */
export interface MetricsSample {
  ts: number;
  requestsPerSec: number;
  denialsPerSec: number;
  p99Ms: number | null;
  cacheHitRate: number | null;
  healthyRatio: number;
  /** Policy decisions per second, per action (absent from an older orchestrator). */
  decisionsPerSec?: Record<PolicyAction, number>;
}

/** `GET /admin/metrics`. */
export interface MetricsAnswer {
  intervalMs: number;
  samples: MetricsSample[];
}

/** One audit ledger entry. */
export interface AuditEntry {
  seq: number;
  ts: string;
  service: string;
  type: string;
  corrId: string | null;
  data: Record<string, unknown> | null;
  prevHash: string;
  hash: string;
}

/** One entry of the shared audit stream (`GET /admin/cluster/audit`): a ledger entry of one instance, mirrored. */
export interface StreamAuditEntry {
  /** Stream id (`<ms>-<n>`), the paging cursor. */
  id: string;
  /** The instance whose ledger holds the entry. */
  instance: string;
  /** Its seq and hash in that instance's own ledger. */
  seq: number;
  hash: string;
  ts: string;
  type: string;
  corrId: string | null;
  data: Record<string, unknown> | null;
}

/** One page of `GET /admin/cluster/audit`, newest first. */
export interface StreamAuditPage {
  stream: string;
  entries: StreamAuditEntry[];
  next: { before: string } | { after: string } | null;
}

/** This instance's part of `GET /admin/cluster` that the UI shows. */
export interface ClusterStatus {
  instanceId: string;
  inSync: boolean;
}

/** One page of `GET /admin/audit` (newest first unless asked otherwise). */
export interface AuditPage {
  order: 'asc' | 'desc';
  entries: AuditEntry[];
  next: { after: number } | { before: number } | null;
  lastSeq: number;
}

/** Filters of the audit page (the tenant and correlation id are matched by the UI's server). */
export interface AuditFilter {
  type?: string;
  tenant?: string;
  corrId?: string;
  /** Entries with a seq below this (the next older page). */
  before?: number;
}

/** One page of the UI's filtered audit view (`/api/audit`). */
export interface AuditView {
  entries: AuditEntry[];
  /** `before` of the next older page, or null at the oldest entry. */
  nextBefore: number | null;
  /** Ledger entries read to fill this page. */
  scanned: number;
  /** True when the scan stopped at its budget before filling the page (older matches may exist). */
  truncated: boolean;
  lastSeq: number;
}

/** `GET /admin/ledger/verify` when intact. */
export interface VerifyOk {
  ok: true;
  entries: number;
  firstSeq: number;
  lastSeq: number;
  checkpoints: number;
  signaturesChecked: boolean;
}

/** The verification failure (the `details` of a 409 `ledger_broken`). */
export interface VerifyFailure {
  ok: false;
  reason: string;
  seq: number | null;
  file: string | null;
  line: number | null;
  message: string;
  entriesVerified: number;
}

/** The chain verification as the audit page shows it: intact, broken (where), or not known. */
export type Verification =
  | { state: 'ok'; result: VerifyOk }
  | { state: 'broken'; result: VerifyFailure; message: string }
  | { state: 'error'; error: ErrorBody };

/** An error body of the admin API (or of the UI's relay). */
export interface ErrorBody {
  error: string;
  message: string;
  /** Validation problems (`invalid_request`), or the verification failure (`ledger_broken`). */
  details?: unknown;
}

/** `GET /admin/mirror`: the mirrored pools and how their copies compared with the real answers. */
export interface MirrorAnswer {
  mirrors: {
    pool: string;
    shadow: string;
    percent: number;
    results: Record<
      | 'same_status'
      | 'different_status'
      | 'shadow_error'
      | 'primary_failed'
      | 'skipped_body'
      | 'skipped_busy'
      | 'skipped_no_backend',
      number
    >;
    latency: { p50: number | null; p99: number | null; shadowP50: number | null; shadowP99: number | null };
    recentDifferences: {
      at: string;
      method: string;
      path: string;
      status: number;
      shadowStatus: number;
      ms: number;
      shadowMs: number;
    }[];
  }[];
}

/** One side's figures in the current interval of a rollout. */
export interface RolloutSide {
  requests: number;
  errors: number;
  errorRate: number;
  p99Ms: number | null;
}

/** `GET /admin/rollouts`: the rollouts of the gateway. */
export interface RolloutsAnswer {
  rollouts: {
    pool: string;
    state: 'running' | 'paused' | 'promoted' | 'rolled_back' | 'aborted';
    percent: number;
    step: number;
    steps: number[];
    intervalMs: number;
    maxErrorRate: number;
    maxP99Ratio: number;
    minRequests: number;
    sticky: boolean;
    nextDecisionInMs: number | null;
    stableUrls: string[];
    canaryUrls: string[];
    window: { stable: RolloutSide; canary: RolloutSide };
    history: {
      kind: string;
      from: string;
      to: string;
      fromPercent: number;
      toPercent: number;
      reason: string;
      at: number;
    }[];
  }[];
}
