import { Module } from '@nestjs/common';
import { AdminModule } from '../admin/admin.module';
import { LedgerModule } from '../ledger/ledger.module';
import { PolicyModule } from '../policy/policy.module';
import { PoolsModule } from '../pools/pools.module';
import { RateLimitModule } from '../ratelimit/rate-limit.module';
import { RedisModule } from '../redis/redis.module';
import { RolloutsModule } from '../rollouts/rollouts.module';
import { AdaptiveSyncService } from './adaptive-sync.service';
import { AuditStreamService } from './audit-stream.service';
import { ClusterChannel } from './cluster-channel';
import { ClusterMetricsModule } from './cluster-metrics.module';
import { ClusterController } from './cluster.controller';
import { PolicySyncService } from './policy-sync.service';
import { PoolSyncService } from './pool-sync.service';
import { RolloutSyncService } from './rollout-sync.service';

/**
 * Coherence between instances through the shared Redis (registered when Redis is configured): pool edits of the
 * admin API, admin policy reloads, adaptive limits and rollouts on every instance, and the audit entries of every
 * instance in one Redis Stream.
 * Rate limits and replay keys are shared by their own modules through the same client. See docs/scale-out.md.
 */
@Module({
  imports: [
    AdminModule,
    RedisModule,
    PoolsModule,
    PolicyModule,
    LedgerModule,
    RateLimitModule,
    ClusterMetricsModule,
    RolloutsModule,
  ],
  controllers: [ClusterController],
  providers: [
    ClusterChannel,
    PoolSyncService,
    PolicySyncService,
    AdaptiveSyncService,
    AuditStreamService,
    RolloutSyncService,
  ],
})
export class ClusterModule {}
