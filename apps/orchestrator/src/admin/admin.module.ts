import { Module } from '@nestjs/common';
import { ResilienceModule } from '../health/resilience.module';
import { ADMIN_RESOLVE_HOST } from './admin.constants';
import { AdminController } from './admin.controller';
import { AdminEventsService } from './admin-events.service';
import { systemResolve } from './backend-target';
import { PoolAdminService } from './pool-admin.service';

/** The admin API for the security team and the admin UI (`/admin/*`, guarded). */
@Module({
  imports: [ResilienceModule],
  controllers: [AdminController],
  providers: [PoolAdminService, AdminEventsService, { provide: ADMIN_RESOLVE_HOST, useValue: systemResolve }],
  exports: [AdminEventsService],
})
export class AdminModule {}
