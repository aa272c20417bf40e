import { Module } from '@nestjs/common';
import { RedisModule } from '../redis/redis.module';
import { AUTH_METRIC_PROVIDERS, AuthMetrics } from './auth-metrics';
import { CallerProofService } from './caller-proof.service';
import { ReplayBackend } from './replay-backend';

/**
 * Caller authentication beyond mTLS: the admission header and DPoP proofs ({@link CallerProofService}, run from the
 * `onRequest` hook) and the replay store they share ({@link ReplayBackend}: in-process, or Redis when configured).
 */
@Module({
  imports: [RedisModule],
  providers: [...AUTH_METRIC_PROVIDERS, AuthMetrics, ReplayBackend, CallerProofService],
  exports: [CallerProofService, ReplayBackend],
})
export class AuthModule {}
