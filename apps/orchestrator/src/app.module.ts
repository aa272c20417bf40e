import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AdminModule } from './admin/admin.module';
import type { OrchestratorConfig } from './config/config';
import { AuthModule } from './auth/auth.module';
import { ClusterModule } from './cluster/cluster.module';
import { ConfigModule } from './config/config.module';
import { DemoModule } from './demo/demo.module';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { ResilienceModule } from './health/resilience.module';
import { GatewayExceptionFilter } from './http/exception.filter';
import { MetricsModule } from './metrics/metrics.module';
import { PolicyModule } from './policy/policy.module';
import { PoolsModule } from './pools/pools.module';
import { ProxyModule } from './proxy/proxy.module';
import { RedisModule } from './redis/redis.module';
import { RouteModule } from './route/route.module';
import { TlsModule } from './tls/tls.module';
import { TracingModule } from './tracing/tracing.module';
import { LedgerModule } from './ledger/ledger.module';

/** The orchestrator, assembled from a validated configuration. */
@Module({})
export class AppModule {
  static forRoot(config: OrchestratorConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        TracingModule,
        LedgerModule,
        EventsModule,
        MetricsModule,
        RedisModule,
        TlsModule,
        AuthModule,
        PolicyModule,
        PoolsModule,
        RouteModule,
        ProxyModule,
        ResilienceModule,
        HealthModule,
        AdminModule,
        ...(config.demo ? [DemoModule] : []),
        ...(config.redis.url !== undefined ? [ClusterModule] : []),
      ],
      providers: [{ provide: APP_FILTER, useClass: GatewayExceptionFilter }],
    };
  }
}
