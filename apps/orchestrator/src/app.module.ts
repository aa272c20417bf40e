import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { OrchestratorConfig } from './config/config';
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

/** The orchestrator, assembled from a validated configuration. */
@Module({})
export class AppModule {
  static forRoot(config: OrchestratorConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        EventsModule,
        MetricsModule,
        RedisModule,
        TlsModule,
        PolicyModule,
        PoolsModule,
        RouteModule,
        ProxyModule,
        ResilienceModule,
        HealthModule,
        ...(config.demo ? [DemoModule] : []),
      ],
      providers: [{ provide: APP_FILTER, useClass: GatewayExceptionFilter }],
    };
  }
}
