import { Module } from '@nestjs/common';
import { PoolsModule } from '../pools/pools.module';
import { RedisModule } from '../redis/redis.module';
import { RateLimitBackend } from './rate-limit-backend';
import { RATE_LIMIT_METRIC_PROVIDERS, RateLimitMetrics } from './rate-limit-metrics';
import { BUCKET_STORE, RateLimitService } from './rate-limit.service';

/** Token buckets per client IP and tenant, in Redis when configured (docs/rate-limiting.md). */
@Module({
  imports: [RedisModule, PoolsModule],
  providers: [
    ...RATE_LIMIT_METRIC_PROVIDERS,
    RateLimitMetrics,
    RateLimitBackend,
    { provide: BUCKET_STORE, useFactory: (backend: RateLimitBackend) => backend.store, inject: [RateLimitBackend] },
    RateLimitService,
  ],
  exports: [RateLimitService],
})
export class RateLimitModule {}
