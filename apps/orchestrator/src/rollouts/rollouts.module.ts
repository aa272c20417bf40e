import { Module } from '@nestjs/common';
import { PoolsModule } from '../pools/pools.module';
import { ROLLOUT_METRIC_PROVIDERS, RolloutMetrics } from './rollout-metrics';
import { RolloutsService } from './rollouts.service';

/** Progressive delivery (canary, blue-green) of pools: the split, the analysis and its transitions. */
@Module({
  imports: [PoolsModule],
  providers: [...ROLLOUT_METRIC_PROVIDERS, RolloutMetrics, RolloutsService],
  exports: [RolloutsService],
})
export class RolloutsModule {}
