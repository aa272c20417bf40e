import { Module } from '@nestjs/common';
import { systemClock } from '@shieldx/security';
import { CLOCK } from '../clock/clock';
import { PoolsModule } from '../pools/pools.module';
import { RateLimitBackend } from '../ratelimit/rate-limit-backend';
import { BUCKET_STORE, RateLimitService } from '../ratelimit/rate-limit.service';
import { RouteController } from './route.controller';
import { RouteService } from './route.service';

/** `POST /route` and the pipeline stages it needs. */
@Module({
  imports: [PoolsModule],
  providers: [
    { provide: CLOCK, useValue: systemClock },
    RateLimitBackend,
    { provide: BUCKET_STORE, useFactory: (backend: RateLimitBackend) => backend.store, inject: [RateLimitBackend] },
    RateLimitService,
    RouteService,
    RouteController,
  ],
  exports: [RateLimitService, RouteService],
})
export class RouteModule {}
