import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LedgerModule } from '../ledger/ledger.module';
import { PolicyModule } from '../policy/policy.module';
import { PoolsModule } from '../pools/pools.module';
import { RedisHealthIndicator } from '../redis/redis.health';
import { RedisModule } from '../redis/redis.module';
import { TlsModule } from '../tls/tls.module';
import { HealthController } from './health.controller';

/** Health, liveness and readiness endpoints. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false }), PoolsModule, PolicyModule, TlsModule, LedgerModule, RedisModule],
  controllers: [HealthController],
  providers: [RedisHealthIndicator],
})
export class HealthModule {}
