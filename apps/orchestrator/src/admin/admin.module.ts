import { Module } from '@nestjs/common';
import { AdvisorsModule } from '../advisors/advisors.module';
import { LedgerModule } from '../ledger/ledger.module';
import { PipelineModule } from '../pipeline/pipeline.module';
import { PolicyModule } from '../policy/policy.module';
import { RateLimitModule } from '../ratelimit/rate-limit.module';
import { PoolsModule } from '../pools/pools.module';
import { ProxyModule } from '../proxy/proxy.module';
import { ResilienceModule } from '../resilience/resilience.module';
import { RolloutsModule } from '../rollouts/rollouts.module';
import { ADMIN_RESOLVE_HOST } from './admin.constants';
import { AdminController } from './admin.controller';
import { AdminEventsService } from './admin-events.service';
import { ConfigController } from './config.controller';
import { ConfigRollouts } from './config-rollouts';
import { ConfigReloadService } from './config-reload.service';
import { LedgerController } from './ledger.controller';
import { MirrorController } from './mirror.controller';
import { OpenApiController, OpenApiService } from './openapi.controller';
import { PolicyController } from './policy.controller';
import { systemResolve } from './backend-target';
import { PoolAdminService } from './pool-admin.service';
import { ProtectionController } from './protection.controller';
import { RolloutAdminService } from './rollout-admin.service';
import { RolloutsController } from './rollouts.controller';
import { UiEventsController } from './ui-events.controller';

/** The admin API for the security team and the admin UI (`/admin/*`, guarded). */
@Module({
  imports: [
    ResilienceModule,
    PoolsModule,
    PolicyModule,
    LedgerModule,
    AdvisorsModule,
    RateLimitModule,
    ProxyModule,
    RolloutsModule,
    PipelineModule,
  ],
  controllers: [
    AdminController,
    PolicyController,
    LedgerController,
    ProtectionController,
    MirrorController,
    OpenApiController,
    ConfigController,
    RolloutsController,
    UiEventsController,
  ],
  providers: [
    PoolAdminService,
    RolloutAdminService,
    AdminEventsService,
    ConfigReloadService,
    ConfigRollouts,
    OpenApiService,
    { provide: ADMIN_RESOLVE_HOST, useValue: systemResolve },
  ],
  exports: [AdminEventsService, PoolAdminService],
})
export class AdminModule {}
