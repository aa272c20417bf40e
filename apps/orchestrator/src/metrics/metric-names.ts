/** Metric names of the contract, in one place. */
export const METRIC = {
  routeTotal: 'orchestrator_route_total',
  routeDenied: 'orchestrator_route_denied_total',
  routeError: 'orchestrator_route_error_total',
  lbPick: 'orchestrator_lb_pick_total',
  rateLimitDenied: 'orchestrator_ratelimit_denied_total',
  httpDuration: 'orchestrator_http_request_duration_seconds',
} as const;
