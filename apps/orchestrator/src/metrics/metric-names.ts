/** Metric names of the contract, in one place. */
export const METRIC = {
  routeTotal: 'orchestrator_route_total',
  routeDenied: 'orchestrator_route_denied_total',
  routeError: 'orchestrator_route_error_total',
  lbPick: 'orchestrator_lb_pick_total',
  rateLimitDenied: 'orchestrator_ratelimit_denied_total',
  rateLimitRedisUp: 'orchestrator_ratelimit_redis_up',
  httpDuration: 'orchestrator_http_request_duration_seconds',
  certExpiry: 'ratls_cert_expiry_seconds',
  opaCacheHit: 'orchestrator_opa_cache_hit_total',
  opaCacheMiss: 'orchestrator_opa_cache_miss_total',
  policyReload: 'orchestrator_policy_reload_total',
  policyVersion: 'orchestrator_policy_version',
  policyDisagreement: 'orchestrator_policy_disagreement_total',
  policyError: 'orchestrator_policy_error_total',
  tarpitActive: 'orchestrator_tarpit_active',
} as const;
