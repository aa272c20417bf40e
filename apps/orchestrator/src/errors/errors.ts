/**
 * Domain errors of the gateway. Each has a stable `code` (the `error` field of the JSON body) and an HTTP status;
 * the one exception filter maps them to responses. Thrown by services, never built as responses in controllers.
 */
export abstract class GatewayError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  /** Extra response headers (e.g. `Retry-After`). */
  readonly headers: Readonly<Record<string, string>> = {};
  /** Structured details added to the body (e.g. validation problems). */
  readonly details?: unknown;
}

/** 400: the request body or a header is malformed. */
export class InvalidRequestError extends GatewayError {
  readonly status = 400;
  constructor(
    readonly code: string,
    message: string,
    override readonly details?: unknown,
  ) {
    super(message);
  }
}

/** 404: the service names no pool and the request gave no candidates. */
export class UnknownServiceError extends GatewayError {
  readonly status = 404;
  readonly code = 'unknown_service';
  constructor(service: string) {
    super(`no pool is configured for service '${service}'`);
  }
}

/** 403: the policy denied the request. */
export class PolicyDeniedError extends GatewayError {
  readonly status = 403;
  readonly code = 'policy_denied';
  constructor(reason: string | undefined) {
    super(reason === undefined ? 'denied by policy' : `denied by policy: ${reason}`);
  }
}

/** 403: the client certificate is valid but none of its URI/DNS SANs is in ORCH_ALLOWED_CLIENT_SAN_PREFIXES. */
export class ClientIdentityRefusedError extends GatewayError {
  readonly status = 403;
  readonly code = 'client_identity_refused';
  constructor() {
    super('the client certificate identity is not allowed here (ORCH_ALLOWED_CLIENT_SAN_PREFIXES)');
  }
}

/** 503: the gateway is shutting down; the request arrived on a connection kept alive from before. */
export class ShuttingDownError extends GatewayError {
  readonly status = 503;
  readonly code = 'shutting_down';
  override readonly headers = { connection: 'close', 'retry-after': '1' };
  constructor() {
    super('the gateway is shutting down: retry, another instance will answer');
  }
}

/** 429: a token bucket is empty. */
export class RateLimitedError extends GatewayError {
  readonly status = 429;
  readonly code = 'rate_limited';
  override readonly headers: Readonly<Record<string, string>>;
  constructor(
    readonly scope: 'ip' | 'tenant',
    headers: Record<string, string>,
  ) {
    super(`too many requests for this ${scope === 'ip' ? 'client address' : 'tenant'}; retry later`);
    this.headers = headers;
  }
}

/**
 * 429: the shared rate-limit store (Redis) is unreachable and ORCH_RATELIMIT_REDIS_FAILURE=closed. A 429 rather than
 * a 5xx: the gateway is healthy and the caller may retry shortly; `Retry-After` says when.
 */
export class RateLimitUnavailableError extends GatewayError {
  readonly status = 429;
  readonly code = 'ratelimit_unavailable';
  override readonly headers = { 'retry-after': '1' };
  constructor() {
    super('rate limits cannot be checked right now (shared store unavailable); retry later');
  }
}

/** 429: too many requests are already held in the tarpit. */
export class TarpitFullError extends GatewayError {
  readonly status = 429;
  readonly code = 'tarpit_full';
  override readonly headers = { 'retry-after': '1' };
  constructor() {
    super('too many requests are being held; retry later');
  }
}

/** 503: the pool has no backend that can take the request. */
export class NoHealthyBackendError extends GatewayError {
  readonly status = 503;
  readonly code = 'no_backend';
  constructor(pool: string) {
    super(`pool '${pool}' has no eligible backend`);
  }
}

/**
 * 503: every connection to the chosen backend stayed busy for ORCH_PROXY_QUEUE_TIMEOUT. The gateway's own load
 * shedding, not a backend failure (no breaker or outlier count); `Retry-After` says when to try again.
 */
export class UpstreamBusyError extends GatewayError {
  readonly status = 503;
  readonly code = 'upstream_busy';
  override readonly headers = { 'retry-after': '1' };
  constructor(waitedMs: number) {
    super(`every connection to the backend stayed busy for ${waitedMs} ms; retry later`);
  }
}

/**
 * 429: this client already holds its share of the chosen backend's connections (ORCH_PROXY_CLIENT_SHARE of
 * ORCH_PROXY_MAX_CONNECTIONS). The client's own concurrency, not a backend failure; `Retry-After` says when.
 */
export class UpstreamShareExceededError extends GatewayError {
  readonly status = 429;
  readonly code = 'upstream_share_exceeded';
  override readonly headers = { 'retry-after': '1' };
  constructor(share: number) {
    super(`this client already has ${share} request(s) in flight to this backend, its share; retry later`);
  }
}

/** 502: the backend could not be reached or broke the exchange. */
export class BadGatewayError extends GatewayError {
  readonly status = 502;
  readonly code = 'bad_gateway';
}

/** 504: the backend did not answer in time. */
export class GatewayTimeoutError extends GatewayError {
  readonly status = 504;
  readonly code = 'upstream_timeout';
}

/**
 * 503: the gateway already holds ORCH_PROXY_MAX_TUNNELS WebSocket tunnels. Its own load shedding, not a backend
 * failure; `Retry-After` says when to try again.
 */
export class TunnelsFullError extends GatewayError {
  readonly status = 503;
  readonly code = 'tunnels_full';
  override readonly headers = { 'retry-after': '1' };
  constructor(max: number) {
    super(`the gateway already holds ${max} WebSocket tunnels, its limit; retry later`);
  }
}

/**
 * 429: this client already holds its share (ORCH_PROXY_CLIENT_SHARE of ORCH_PROXY_MAX_TUNNELS) of the gateway's
 * WebSocket tunnels.
 */
export class TunnelShareExceededError extends GatewayError {
  readonly status = 429;
  readonly code = 'tunnel_share_exceeded';
  override readonly headers = { 'retry-after': '1' };
  constructor(share: number) {
    super(`this client already holds ${share} WebSocket tunnel(s), its share; retry later`);
  }
}

/** 429: the tenant's quota (ORCH_QUOTA_URL) does not cover this request; `X-Quota-Remaining` says what is left. */
export class QuotaExceededError extends GatewayError {
  readonly status = 429;
  readonly code = 'quota_exceeded';
  override readonly headers: Readonly<Record<string, string>>;
  constructor(remaining: number) {
    super(`the tenant's quota does not cover this request (${remaining} left)`);
    this.headers = { 'x-quota-remaining': String(remaining) };
  }
}

/**
 * 503: an advisor the gateway must consult (threat score, quota) failed or ran out of its time budget, and its fail
 * mode is `deny` (ORCH_THREAT_ON_ERROR, ORCH_QUOTA_ON_ERROR).
 */
export class AdvisorUnavailableError extends GatewayError {
  readonly status = 503;
  readonly code: string;
  override readonly headers = { 'retry-after': '1' };
  constructor(advisor: 'threat' | 'quota') {
    super(`the ${advisor} service did not answer in time and the gateway is set to refuse without it`);
    this.code = `${advisor}_unavailable`;
  }
}

/** 404: `POST /admin/protection/release` named a key that is not tightened or recovering now. */
export class NotTightenedError extends GatewayError {
  readonly status = 404;
  readonly code = 'not_tightened';
  constructor(key: string) {
    super(`'${key.slice(0, 64)}' is not tightened or recovering now`);
  }
}

/** 404: `POST /admin/policy/promote` while no candidate policy is configured (ORCH_SHADOW_POLICY_PATH). */
export class NoCandidatePolicyError extends GatewayError {
  readonly status = 404;
  readonly code = 'no_candidate_policy';
  constructor() {
    super('no candidate policy is configured: set ORCH_SHADOW_POLICY_PATH');
  }
}

/** 409: the candidate slot is empty (already promoted, or the candidate failed to load) until the next reload. */
export class CandidatePolicyEmptyError extends GatewayError {
  readonly status = 409;
  readonly code = 'candidate_policy_empty';
  constructor(why: 'promoted' | 'failed') {
    super(
      why === 'promoted'
        ? 'the candidate policy was already promoted; reload to load ORCH_SHADOW_POLICY_PATH again'
        : 'the candidate policy failed to load (see GET /admin/policy/shadow); fix the file and reload',
    );
  }
}

/** 429: what-if evaluations (`POST /admin/policy/evaluate`) are asked for faster than they are allowed. */
export class EvaluateRateLimitedError extends GatewayError {
  readonly status = 429;
  readonly code = 'evaluate_rate_limited';
  override readonly headers = { 'retry-after': '1' };
  constructor() {
    super('too many policy evaluations; retry in a second');
  }
}

/** 422: `POST /admin/config/reload` found the configuration invalid; the running one is kept. */
export class ConfigInvalidError extends GatewayError {
  readonly status = 422;
  readonly code = 'config_invalid';
  constructor(override readonly details: { readonly problems: readonly string[] }) {
    super(`the configuration is invalid, the running one is kept: ${details.problems.join('; ')}`);
  }
}

/**
 * A ledger export that cannot be made: 404 `no_entries` (nothing in the range), 400 `export_too_large` (over the
 * bound), 409 `ledger_unreadable` (a line in the way is not an entry: verify the ledger).
 */
export class LedgerExportRefusedError extends GatewayError {
  readonly status: number;
  readonly code: string;
  constructor(reason: 'no_entries' | 'too_large' | 'invalid_range' | 'unreadable', message: string) {
    super(message);
    [this.status, this.code] =
      reason === 'no_entries'
        ? [404, 'no_entries']
        : reason === 'too_large'
          ? [400, 'export_too_large']
          : reason === 'invalid_range'
            ? [400, 'invalid_query']
            : [409, 'ledger_unreadable'];
  }
}

/** 404: the pool has no rollout. */
export class UnknownRolloutError extends GatewayError {
  readonly status = 404;
  readonly code = 'unknown_rollout';
  constructor(pool: string) {
    super(`pool '${pool}' has no rollout`);
  }
}

/** 409: the pool already has a live rollout, or the rollout is not in a state the action applies to. */
export class RolloutConflictError extends GatewayError {
  readonly status = 409;
  readonly code = 'rollout_conflict';
}

/** 409: the pool is under a live rollout, which owns its backends until it ends (docs/rollouts.md). */
export class RolloutActiveError extends GatewayError {
  readonly status = 409;
  readonly code = 'rollout_active';
  constructor(pool: string, state: string) {
    super(
      `pool '${pool}' is under a ${state} rollout (GET /admin/rollouts/${pool}); promote or abort it before ` +
        'editing or removing the pool',
    );
  }
}
