import { Module } from '@nestjs/common';
import { PoolsModule } from '../pools/pools.module';
import { RedisModule } from '../redis/redis.module';
import { ADAPTIVE_METRIC_PROVIDERS, AdaptiveProtection } from './adaptive-protection';
import { RateLimitBackend } from './rate-limit-backend';
import { RATE_LIMIT_METRIC_PROVIDERS, RateLimitMetrics } from './rate-limit-metrics';
import { BUCKET_STORE, RateLimitService } from './rate-limit.service';

/** Token buckets per client IP and tenant, in Redis when configured (docs/rate-limiting.md). */
@Module({
  imports: [RedisModule, PoolsModule],
  providers: [
    ...RATE_LIMIT_METRIC_PROVIDERS,
    ...ADAPTIVE_METRIC_PROVIDERS,
    RateLimitMetrics,
    AdaptiveProtection,
    RateLimitBackend,
    { provide: BUCKET_STORE, useFactory: (backend: RateLimitBackend) => backend.store, inject: [RateLimitBackend] },
    RateLimitService,
  ],
  exports: [RateLimitService, AdaptiveProtection],
})
export class RateLimitModule {}
