import { Global, Module } from '@nestjs/common';
import {
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
  PrometheusModule,
} from '@willsoto/nestjs-prometheus';
import { METRIC } from './metric-names';
import { PolicyMetrics } from '../policy/policy-metrics';
import { LedgerMetrics } from '../ledger/ledger-metrics';
import { ClusterMetrics } from '../cluster/cluster-metrics';
import { GatewayMetrics } from './gateway-metrics';
import { ResilienceMetrics } from './resilience-metrics';

/** Prometheus registry, `/metrics`, and the gateway's own instruments. */
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
    makeCounterProvider({ name: METRIC.opaCacheHit, help: 'Policy decisions served from the decision cache' }),
    makeCounterProvider({ name: METRIC.opaCacheMiss, help: 'Policy decisions computed (cache miss)' }),
    makeCounterProvider({ name: METRIC.policyReload, help: 'Policy reloads by result', labelNames: ['result'] }),
    makeGaugeProvider({ name: METRIC.policyVersion, help: 'Version of the running policy (+1 per successful reload)' }),
    makeCounterProvider({
      name: METRIC.policyDisagreement,
      help: 'Shadow mode: OPA and base rules answered different actions',
    }),
    makeCounterProvider({
      name: METRIC.policyError,
      help: 'OPA evaluations that failed (error) or ran over budget (slow)',
      labelNames: ['kind'],
    }),
    makeGaugeProvider({ name: METRIC.tarpitActive, help: 'Requests held in the tarpit now' }),
    makeGaugeProvider({
      name: METRIC.certExpiry,
      help: 'Seconds until the serving TLS certificate expires (negative once expired; no sample without TLS)',
    }),
    makeCounterProvider({ name: METRIC.healthOk, help: 'Health probes that succeeded' }),
    makeCounterProvider({ name: METRIC.healthBad, help: 'Health probes that failed (status, timeout, connection)' }),
    makeHistogramProvider({
      name: METRIC.healthProbe,
      help: 'Health probe duration',
      labelNames: ['result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
    makeCounterProvider({ name: METRIC.cbOpen, help: 'Circuit breakers that opened' }),
    makeCounterProvider({ name: METRIC.cbHalfOpen, help: 'Circuit breakers that went half-open' }),
    makeCounterProvider({ name: METRIC.cbClose, help: 'Circuit breakers that closed' }),
    makeCounterProvider({
      name: METRIC.ledgerEvents,
      help: 'Security events offered to the audit ledger, by outcome (written, aggregated, suppressed)',
      labelNames: ['outcome'],
    }),
    makeCounterProvider({
      name: METRIC.ledgerErrors,
      help: 'Audit ledger problems: write (the writer failed), dropped (an event lost while it was down), invalid',
      labelNames: ['kind'],
    }),
    makeGaugeProvider({ name: METRIC.ledgerUp, help: '1 while the audit ledger accepts entries, 0 while it is down' }),
    makeGaugeProvider({
      name: METRIC.clusterUp,
      help: '1 while this instance is subscribed to the shared Redis channels and in sync, 0 otherwise (or no Redis)',
    }),
    makeCounterProvider({
      name: METRIC.clusterSyncErrors,
      help: 'Failures of cluster coherence through Redis (publish, subscribe, resync, apply, audit)',
      labelNames: ['kind'],
    }),
    makeCounterProvider({
      name: METRIC.clusterSync,
      help: 'Pool changes and policy reloads published to, or applied from, the other instances',
      labelNames: ['kind', 'direction'],
    }),
    makeGaugeProvider({
      name: METRIC.clusterPoolVersion,
      help: 'Highest shared pool-configuration version this instance has applied (0 = none)',
    }),
    makeCounterProvider({
      name: METRIC.auditStream,
      help: 'Audit entries mirrored to the shared Redis stream, or dropped (Redis unavailable, buffer full)',
      labelNames: ['outcome'],
    }),
    GatewayMetrics,
    PolicyMetrics,
    ResilienceMetrics,
    LedgerMetrics,
    ClusterMetrics,
  ],
  exports: [GatewayMetrics, PolicyMetrics, ResilienceMetrics, LedgerMetrics, ClusterMetrics],
})
export class MetricsModule {}
