import { Global, Module } from '@nestjs/common';
import {
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
  PrometheusModule,
} from '@willsoto/nestjs-prometheus';
import { METRIC } from './metric-names';
import { GatewayMetrics } from './gateway-metrics';

/**
 * Prometheus registry, `/metrics`, and the request-level instruments every stage shares ({@link GatewayMetrics}).
 * Each capability registers its own instruments in its own module (policy, ledger, resilience, cluster).
 */
@Global()
@Module({
  imports: [PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } })],
  providers: [
    makeCounterProvider({
      name: METRIC.routeTotal,
      help: 'Answered /route and /proxy requests',
      labelNames: ['action'],
    }),
    makeCounterProvider({
      name: METRIC.routeDenied,
      help: 'Requests refused by policy, rate limit or caller proof',
      labelNames: ['reason'],
    }),
    makeCounterProvider({
      name: METRIC.routeError,
      help: 'Requests answered with an error status',
      labelNames: ['code'],
    }),
    makeCounterProvider({ name: METRIC.lbPick, help: 'Backend picks', labelNames: ['pool', 'algo', 'healthy'] }),
    makeCounterProvider({
      name: METRIC.rateLimitDenied,
      help: 'Requests refused by a token bucket',
      labelNames: ['scope'],
    }),
    makeCounterProvider({
      name: METRIC.authFailed,
      help: 'Caller proofs refused (scheme: admission or dpop; code: the error code of the 401)',
      labelNames: ['scheme', 'code'],
    }),
    makeCounterProvider({
      name: METRIC.replayStoreErrors,
      help: 'Failed or timed-out checks of the shared (Redis) replay store',
    }),
    makeGaugeProvider({
      name: METRIC.rateLimitRedisUp,
      help: '1 while rate limits are kept in Redis, 0 while they fall back (or Redis is not configured)',
    }),
    makeHistogramProvider({
      name: METRIC.httpDuration,
      help: 'Time from request start to response end',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    makeGaugeProvider({ name: METRIC.tarpitActive, help: 'Requests held in the tarpit now' }),
    makeGaugeProvider({
      name: METRIC.certExpiry,
      help: 'Seconds until the serving TLS certificate expires (negative once expired; no sample without TLS)',
    }),
    GatewayMetrics,
  ],
  exports: [GatewayMetrics],
})
export class MetricsModule {}
