import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge } from 'prom-client';
import { METRIC } from '../metrics/metric-names';

type Child = ReturnType<Counter<string>['labels']>;

/** Kinds of cluster-coherence failure (`orchestrator_cluster_sync_errors_total{kind}`). */
export type ClusterErrorKind = 'publish' | 'subscribe' | 'resync' | 'apply' | 'message' | 'audit';
/** What was synchronised. */
export type ClusterSyncKind = 'pool' | 'policy' | 'adaptive' | 'rollout';

const ERROR_KINDS: readonly ClusterErrorKind[] = ['publish', 'subscribe', 'resync', 'apply', 'message', 'audit'];

/** The cluster's instruments, with their labelled children made once (so every series exists from the start). */
@Injectable()
export class ClusterMetrics {
  private readonly errors = new Map<ClusterErrorKind, Child>();
  private readonly synced = new Map<string, Child>();
  private readonly mirrored: Child;
  private readonly dropped: Child;

  constructor(
    @InjectMetric(METRIC.clusterUp) private readonly up: Gauge<string>,
    @InjectMetric(METRIC.clusterSyncErrors) errors: Counter<string>,
    @InjectMetric(METRIC.clusterSync) sync: Counter<string>,
    @InjectMetric(METRIC.clusterPoolVersion) private readonly poolVersion: Gauge<string>,
    @InjectMetric(METRIC.auditStream) audit: Counter<string>,
  ) {
    for (const kind of ERROR_KINDS) this.errors.set(kind, errors.labels(kind));
    for (const kind of ['pool', 'policy', 'adaptive', 'rollout'] as const) {
      for (const direction of ['published', 'applied'] as const) {
        this.synced.set(`${kind}:${direction}`, sync.labels(kind, direction));
      }
    }
    this.mirrored = audit.labels('mirrored');
    this.dropped = audit.labels('dropped');
    this.up.set(0);
    this.poolVersion.set(0);
  }

  /** Counts one failure of `kind`. */
  error(kind: ClusterErrorKind): void {
    this.errors.get(kind)?.inc();
  }

  /** Counts a change this instance published to the others, or applied from them. */
  sync(kind: ClusterSyncKind, direction: 'published' | 'applied'): void {
    this.synced.get(`${kind}:${direction}`)?.inc();
  }

  /** Whether the instance is subscribed and in sync. */
  setUp(up: boolean): void {
    this.up.set(up ? 1 : 0);
  }

  /** The highest shared pool version applied. */
  setPoolVersion(version: number): void {
    this.poolVersion.set(version);
  }

  /** Counts audit entries written to the stream, or dropped. */
  audit(outcome: 'mirrored' | 'dropped', count = 1): void {
    (outcome === 'mirrored' ? this.mirrored : this.dropped).inc(count);
  }
}

/** The cluster instruments, registered by the module that owns them. */
export const CLUSTER_METRIC_PROVIDERS = [
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
    help: 'Pool changes, policy reloads, adaptive limit and rollout changes published to, or applied from, the other instances',
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
];
