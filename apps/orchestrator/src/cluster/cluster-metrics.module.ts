import { Module } from '@nestjs/common';
import { CLUSTER_METRIC_PROVIDERS, ClusterMetrics } from './cluster-metrics';

/**
 * The cluster's instruments, loaded with or without Redis: without it `orchestrator_cluster_up` reads 0, which is what
 * a dashboard and an alert on it need to see (docs/observability.md).
 */
@Module({ providers: [...CLUSTER_METRIC_PROVIDERS, ClusterMetrics], exports: [ClusterMetrics] })
export class ClusterMetricsModule {}
