import { Module } from '@nestjs/common';
import { PoolsModule } from '../pools/pools.module';
import { UpstreamModule } from '../upstream/upstream.module';
import { BreakerMonitor } from './breaker-monitor';
import { HealthProber } from './health-prober';
import { RESILIENCE_METRIC_PROVIDERS, ResilienceMetrics } from './resilience-metrics';

/** Active health probes and breaker monitoring (passive health lives in the proxy's outlier detector). */
@Module({
  imports: [UpstreamModule, PoolsModule],
  providers: [...RESILIENCE_METRIC_PROVIDERS, ResilienceMetrics, HealthProber, BreakerMonitor],
  exports: [HealthProber, BreakerMonitor],
})
export class ResilienceModule {}
