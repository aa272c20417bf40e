// Generated from the orchestrator's OpenAPI document (GET /admin/openapi.json) by `npm run openapi:generate`
// (apps/orchestrator/test/openapi-types.ts): do not edit.

export type AdminPoolView = {
  algo: AlgoName;
  healthy: number;
  total: number;
  backends: BackendJSON[];
  name: string;
};

export type AdvancedRule = {
  tenant: string;
  scopes: string[];
  pathPrefix: string;
  action: PolicyAction;
  divertTo?: string;
  tarpitMs?: number;
  reason?: string;
  cost?: number;
};

export type AlgoName = 'round_robin' | 'least_conn' | 'ewma' | 'p2c' | 'rendezvous' | 'cost';

export type AuditAnswer = {
  lastSeq: number;
  order: 'asc' | 'desc';
  entries: LedgerEntry[];
  next:
    | {
        after: number;
      }
    | {
        before: number;
      }
    | null;
  scanned: number;
  unreadable: number;
};

export type AuditStreamStatus = {
  stream: string;
  maxLen: number;
  enabled: boolean;
  backlog: number;
  mirrored: number;
  dropped: number;
};

export type BackendJSON = {
  url: string;
  healthy: boolean;
  ewma_ms: number;
  inflight: number;
  cb_state: BreakerStateName;
  weight: number;
  last_error: string | null;
  zone?: string;
  region?: string;
  cost?: number;
};

export type BaseRules = {
  allowAll: boolean;
  allowed: {
    tenant: string;
    scopes: string[];
  }[];
  advanced: AdvancedRule[];
  tarpitMs: number;
  threat?: ThreatThresholds;
};

export type BreakersAnswer = {
  breakers: BreakerView[];
  history: BreakerTransitionView[];
};

export type BreakerStateName = 'closed' | 'open' | 'half_open';

export type BreakerTransitionView = {
  pool: string;
  backend: string;
  from: BreakerStateName;
  to: BreakerStateName;
  at: string;
  openForMs: number | null;
};

export type BreakerView = {
  pool: string;
  backend: string;
  state: BreakerStateName;
  failures: number;
  openForMs: number | null;
  nextTrialInMs: number | null;
  trialInFlight: boolean;
  healthy: boolean;
  lastError: string | null;
};

export type CandidateState = 'none' | 'loaded' | 'promoted' | 'failed';

export type CandidateStatus = {
  state: CandidateState;
  path: string | null;
  source: string | null;
  lastReload: string | null;
  lastError: string | null;
};

export type ClusterStatus = {
  instanceId: string;
  redis: string;
  subscriber: string;
  subscribed: boolean;
  inSync: boolean;
  lastSyncAt: string | null;
  lastError: string | null;
  pools: PoolSyncStatus;
  policy: PolicySyncStatus;
  audit: AuditStreamStatus;
};

export type ConfigReloadAnswer = {
  ok: true;
  applied: string[];
  pools: {
    defined: string[];
    removed: string[];
    held?: string[];
  };
  restartRequired: string[];
  rollouts?: ConfigRolloutsOutcome;
};

export type ConfigRolloutsOutcome = {
  started: string[];
  skipped: {
    pool: string;
    reason: SkipReason;
  }[];
  failed: {
    pool: string;
    error: string;
  }[];
};

export type Decision = {
  action: PolicyAction;
  divertTo?: string;
  tarpitMs?: number;
  reason?: string;
  cached?: boolean;
  cost?: number;
};

export type DeniedAnswer = {
  tenants: TopEntry[];
  paths: TopEntry[];
};

export type ErrorBody = {
  error: string;
  message: string;
  correlationId: string;
  details?: unknown;
};

export type EvaluateAnswer = {
  input: PolicyInput;
  active: Decision;
  candidate: Decision | null;
  differ: boolean;
};

export type HealthCheckAnswer = HealthCheckResult;

export type HealthCheckResult = {
  status: HealthCheckStatus;
  info?: {
    [key: string]: {
      status: HealthIndicatorStatus;
    };
  };
  error?: {
    [key: string]: {
      status: HealthIndicatorStatus;
    };
  };
  details: HealthIndicatorResult;
};

export type HealthCheckStatus = 'error' | 'ok' | 'degraded' | 'shutting_down';

export type HealthIndicatorResult = {
  [key: string]: {
    status: HealthIndicatorStatus;
  };
};

export type HealthIndicatorStatus = 'up' | 'degraded' | 'down';

export type HealthSnapshot = {
  status: 'ok' | 'degraded';
  health_ratio: number;
  pools: {
    [key: string]: PoolJSON;
  };
};

export type LedgerEntry = {
  seq: number;
  ts: string;
  service: string;
  type: string;
  corrId: string | null;
  data: unknown;
  prevHash: string;
  hash: string;
};

export type LedgerExportRange =
  | {
      by: 'seq';
      fromSeq: number;
      toSeq: number;
    }
  | {
      by: 'time';
      since: string;
      until: string;
    };

export type LedgerStatus = {
  state: 'opening' | 'up' | 'down' | 'closed';
  path: string;
  lastSeq: number;
  syncedSeq: number;
  lastError: string | null;
};

export type LedgerVerifyAnswer = {
  writer: LedgerStatus;
  ok: true;
  entries: number;
  files: string[];
  firstSeq: number;
  lastSeq: number;
  lastHash: string;
  startsAt: {
    seq: number;
    prevHash: string;
  } | null;
  checkpoints: number;
  signaturesChecked: boolean;
  recoveries: number;
  tornTail: {
    file: string;
    bytes: number;
  } | null;
  head: VerifiedHead | null;
  headMissing: string | null;
  unsignedStart: number;
  export: VerifiedExport | null;
};

export type MetricsAnswer = {
  intervalMs: number;
  samples: MetricsSample[];
};

export type MetricsSample = {
  ts: number;
  requestsPerSec: number;
  denialsPerSec: number;
  p99Ms: number | null;
  cacheHitRate: number | null;
  healthyRatio: number;
  decisionsPerSec: {
    allow: number;
    deny: number;
    divert: number;
    tarpit: number;
  };
};

export type MirrorAnswer = {
  mirrors: MirrorView[];
};

export type MirrorDifference = {
  at: string;
  method: string;
  path: string;
  status: number;
  shadowStatus: number;
  ms: number;
  shadowMs: number;
};

export type MirrorView = {
  pool: string;
  shadow: string;
  percent: number;
  results: {
    same_status: number;
    different_status: number;
    shadow_error: number;
    primary_failed: number;
    skipped_body: number;
    skipped_busy: number;
    skipped_no_backend: number;
  };
  latency: {
    p50: number | null;
    p99: number | null;
    shadowP50: number | null;
    shadowP99: number | null;
  };
  recentDifferences: MirrorDifference[];
};

export type PolicyAction = 'allow' | 'deny' | 'divert' | 'tarpit';

export type PolicyEvaluateDto = {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
  /** An IPv4 or IPv6 address. */
  ip?: string;
  threatScore?: number;
  poolHealth?: number;
  userAgent?: string;
  identityUris?: string[];
  identityDns?: string[];
  dpopJkt?: string;
  service: string;
  tenant: string;
  scope: string;
  /** An absolute path with a canonical form: no query or fragment (?, #), no traversal (.., encoded or not), no path parameters (;), no encoded separators, no control characters. */
  path: string;
};

export type PolicyIdentity = {
  uris: string[];
  dns: string[];
};

export type PolicyInput = {
  service: string;
  tenant: string;
  scope: string;
  path: string;
  method: string;
  ip: string;
  identity: PolicyIdentity;
  dpop: {
    jkt: string | null;
  };
  poolHealth: number;
  headers: {
    [key: string]: string;
  };
  threat?: ThreatVerdict;
  ip_reputation?: number;
};

export type PolicyReloadAnswer = {
  reloaded: boolean;
  version: number;
  error?: string;
  status: PolicyStatus;
  candidate: CandidateStatus;
};

export type PolicyRules = {
  source: string;
  baseRules: BaseRules;
  entrypoint: string | null;
  rego: RegoSource[];
};

export type PolicyStatus = {
  version: number;
  source: string;
  opaLoaded: boolean;
  enforce: boolean;
  lastReload: string | null;
  lastError: string | null;
  cache: {
    hits: number;
    misses: number;
    size: number;
  };
};

export type PolicySyncStatus = {
  version: number;
  pending: boolean;
};

export type PoolEditAnswer = {
  algo: AlgoName;
  healthy: number;
  total: number;
  backends: BackendJSON[];
  pool: string;
  created: boolean;
};

export type PoolEditDto = {
  urls: string[];
  algo?: 'round_robin' | 'least_conn' | 'ewma' | 'p2c' | 'rendezvous' | 'cost';
  weights?: Record<string, unknown>;
  meta?: Record<string, unknown>;
};

export type PoolJSON = {
  algo: AlgoName;
  healthy: number;
  total: number;
  backends: BackendJSON[];
};

export type PoolRemovedAnswer = {
  pool: string;
  removed: true;
};

export type PoolsAnswer = {
  health_ratio: number;
  pools: AdminPoolView[];
};

export type PoolSyncStatus = {
  version: number;
  applied: {
    [key: string]: number;
  };
  pending: string[];
  refused: {
    pool: string;
    version: number;
    origin: string;
    reason: string;
  }[];
};

export type PromoteAnswer = {
  promoted: true;
  version: number;
  source: string;
  status: PolicyStatus;
};

export type ProtectionView = {
  adaptive: {
    mode: 'off' | 'shadow' | 'enforce';
    tightened: {
      key: string;
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
    breaker: BreakerStateName;
    onError: string;
    recent: {
      ip: string;
      score: number;
      reasons: string[];
      fetchedAt: string;
    }[];
  };
  quota: {
    enabled: boolean;
    breaker: BreakerStateName;
    onError: string;
    scopes: string[];
  };
};

export type RegoSource = {
  path: string;
  text: string;
};

export type ReleaseAnswer = {
  key: string;
  released: true;
};

export type ReleaseKeyDto = {
  key: string;
};

export type RolloutAnswer = {
  state: RolloutState;
  phase: RolloutPhase;
  percent: number;
  step: number;
  steps: number[];
  intervalMs: number;
  maxErrorRate: number;
  maxP99Ratio: number;
  minRequests: number;
  sticky: boolean;
  preview: boolean;
  previewMethods: string[];
  nextDecisionInMs: number | null;
  window: {
    stable: SideSummary;
    canary: SideSummary;
  };
  history: {
    at: number;
    kind: TransitionKind;
    from: RolloutState;
    to: RolloutState;
    fromPercent: number;
    toPercent: number;
    reason: string;
    phase: RolloutPhase;
    stable: SideSummary;
    canary: SideSummary;
  }[];
  pool: string;
  stableUrls: string[];
  canaryUrls: string[];
};

export type RolloutDto = {
  stable: string[];
  canary: string[];
  steps: number[];
  interval: string;
  maxErrorRate: number;
  maxP99Ratio: number;
  minRequests: number;
  sticky?: true | false;
  preview?: true | false;
  previewMethods?: ('GET' | 'HEAD' | 'OPTIONS' | 'POST' | 'PUT' | 'DELETE' | 'PATCH')[];
};

export type RolloutPhase = 'preview' | 'traffic';

export type RolloutRemovedAnswer = {
  pool: string;
  removed: true;
};

export type RolloutsAnswer = {
  rollouts: RolloutAnswer[];
};

export type RolloutState = 'running' | 'paused' | 'promoted' | 'rolled_back' | 'aborted';

export type RouteAnswer = {
  target: string;
  algo: string;
  policy: string;
  healthy: boolean;
  pool: string;
  cached: boolean;
  locality?: 'zone' | 'region' | 'any';
};

export type RouteRequestDto = {
  hashKey?: string;
  algo?: 'round_robin' | 'least_conn' | 'ewma' | 'p2c' | 'rendezvous' | 'cost';
  candidates?: string[];
  service: string;
  tenant: string;
  scope: string;
  /** An absolute path with a canonical form: no query or fragment (?, #), no traversal (.., encoded or not), no path parameters (;), no encoded separators, no control characters. */
  path: string;
};

export type RulesReport = {
  active: PolicyRules;
  candidate: PolicyRules | null;
};

export type ShadowCell = {
  active: PolicyAction;
  shadow: PolicyAction;
  count: number;
};

export type ShadowDecisionView = {
  action: PolicyAction;
  reason: string | null;
  divertTo?: string;
};

export type ShadowReport = {
  since: string;
  evaluated: number;
  divergent: number;
  shed: number;
  pending: number;
  matrix: ShadowCell[];
  samples: ShadowSample[];
  candidate: CandidateStatus;
};

export type ShadowSample = {
  at: string;
  input: PolicyInput;
  active: ShadowDecisionView;
  candidate: ShadowDecisionView;
};

export type SideSummary = {
  requests: number;
  errors: number;
  errorRate: number;
  p99Ms: number | null;
};

export type SkipReason = 'rolling_out' | 'already_canary' | 'rolled_back' | 'aborted';

export type StreamAuditEntry = {
  id: string;
  instance: string;
  seq: number;
  ts: string;
  type: string;
  corrId: string | null;
  hash: string;
  data: unknown;
};

export type StreamAuditPage = {
  stream: string;
  entries: StreamAuditEntry[];
  next: StreamQuery | null;
};

export type StreamQuery = {
  after?: string;
  before?: string;
  limit: number;
};

export type ThreatThresholds = {
  denyAbove?: number;
  tarpitAbove?: number;
  divertAbove?: number;
  divertTo?: string;
};

export type ThreatVerdict = {
  score: number;
  reasons: string[];
};

export type TopEntry = {
  key: string;
  count: number;
  error: number;
};

export type TransitionKind =
  'started' | 'previewed' | 'advanced' | 'promoted' | 'rolled_back' | 'paused' | 'resumed' | 'aborted' | 'restored';

export type UiEventsControllerRecordAnswer = {
  recorded: true;
};

export type VerifiedExport = {
  fromSeq: number;
  toSeq: number;
  anchor: {
    seq: number;
    hash: string;
  };
  range: LedgerExportRange;
  exportedAt: string;
  endsSigned: 'checkpoint' | 'head' | 'none';
};

export type VerifiedHead = {
  source: 'file' | 'writer' | 'export';
  path: string | null;
  seq: number;
  hash: string;
  ts: string | null;
  closed: boolean;
  signed: boolean;
};

export type VerifyFailure = {
  ok: false;
  reason: VerifyFailureReason;
  seq: number | null;
  file: string | null;
  line: number | null;
  message: string;
  entriesVerified: number;
};

export type VerifyFailureReason =
  | 'unparsable'
  | 'malformed'
  | 'hash_mismatch'
  | 'seq_gap'
  | 'seq_out_of_order'
  | 'prev_hash_mismatch'
  | 'non_canonical'
  | 'bad_checkpoint'
  | 'bad_signature'
  | 'missing_checkpoint'
  | 'truncated'
  | 'head_mismatch'
  | 'bad_head'
  | 'no_head'
  | 'bad_export'
  | 'no_ledger'
  | 'ambiguous_path'
  | 'io_error';
