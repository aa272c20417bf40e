import { Global, Module } from '@nestjs/common';
import { makeCounterProvider, makeHistogramProvider, PrometheusModule } from '@willsoto/nestjs-prometheus';
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
    makeHistogramProvider({
      name: METRIC.httpDuration,
      help: 'Time from request start to response end',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    GatewayMetrics,
  ],
  exports: [GatewayMetrics],
})
export class MetricsModule {}
