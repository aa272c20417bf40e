import { Module } from '@nestjs/common';
import { ProxyModule } from '../proxy/proxy.module';
import { BreakerMonitor } from './breaker-monitor';
import { HealthProber } from './health-prober';

/** Active health probes and breaker monitoring (passive health lives in the proxy's outlier detector). */
@Module({
  imports: [ProxyModule],
  providers: [HealthProber, BreakerMonitor],
  exports: [HealthProber, BreakerMonitor],
})
export class ResilienceModule {}
