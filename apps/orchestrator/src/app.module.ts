import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { anonymizeIp } from '@shieldx/security';
import { AdminModule } from './admin/admin.module';
import { ClockModule } from './clock/clock.module';
import { ClusterMetricsModule } from './cluster/cluster-metrics.module';
import { ClusterModule } from './cluster/cluster.module';
import type { OrchestratorConfig } from './config/config';
import { CONFIG_SOURCE, ConfigModule, ORCH_CONFIG, type ConfigSource } from './config/config.module';
import { DemoModule } from './demo/demo.module';
import { EventsModule } from './events/events.module';
import { LogEventSink } from './events/security-events';
import { HealthModule } from './health/health.module';
import { LedgerEventSink } from './ledger/ledger-event-sink';
import { LedgerModule } from './ledger/ledger.module';
import { LedgerService } from './ledger/ledger.service';
import { MetricsModule } from './metrics/metrics.module';
import { GatewayExceptionFilter } from './pipeline/exception.filter';
import { PipelineModule } from './pipeline/pipeline.module';
import { ProxyModule } from './proxy/proxy.module';
import { ResilienceModule } from './resilience/resilience.module';
import { RouteModule } from './route/route.module';

/**
 * The orchestrator, assembled from a validated configuration: the global foundation (config, clock, metrics, security
 * events), the pipeline, and the edges, each of which imports the capabilities it needs (docs/architecture.md).
 */
@Module({})
export class AppModule {
  static forRoot(config: OrchestratorConfig, source: ConfigSource = () => config): DynamicModule {
    return {
      module: AppModule,
      global: true,
      exports: [CONFIG_SOURCE],
      imports: [
        ConfigModule.forRoot(config),
        ClockModule,
        MetricsModule,
        // Every security event goes to the log (warn lines) and to the audit ledger.
        EventsModule.forRoot({
          imports: [LedgerModule],
          inject: [ORCH_CONFIG, LedgerService],
          useFactory: (settings: OrchestratorConfig, ledger: LedgerService) => [
            new LogEventSink(settings.log.fullIp ? (ip) => ip : anonymizeIp),
            new LedgerEventSink(ledger),
          ],
        }),
        PipelineModule,
        RouteModule,
        ProxyModule,
        // Probes and breakers run whether or not anything else asks for them.
        ResilienceModule,
        HealthModule,
        AdminModule,
        ...(config.demo ? [DemoModule] : []),
        ClusterMetricsModule,
        ...(config.redis.url !== undefined ? [ClusterModule] : []),
      ],
      providers: [
        { provide: APP_FILTER, useClass: GatewayExceptionFilter },
        { provide: CONFIG_SOURCE, useValue: source },
      ],
    };
  }
}
