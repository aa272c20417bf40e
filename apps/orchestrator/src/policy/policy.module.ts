import { Module } from '@nestjs/common';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { SecurityEvents } from '../events/security-events';
import { POLICY_METRIC_PROVIDERS, PolicyMetrics } from './policy-metrics';
import { PolicyService } from './policy.service';

/** Injection token of the active {@link import('@shieldx/policy').PolicyEngine} (the policy manager). */
export const POLICY_ENGINE = Symbol('POLICY_ENGINE');

/** Base rules, OPA (enforce or shadow), the decision cache and hot reload, wired to the pipeline. */
@Module({
  providers: [
    ...POLICY_METRIC_PROVIDERS,
    PolicyMetrics,
    {
      provide: PolicyService,
      inject: [ORCH_CONFIG, PolicyMetrics, SecurityEvents],
      useFactory: (config: OrchestratorConfig, metrics: PolicyMetrics, events: SecurityEvents) =>
        PolicyService.create(config, metrics, events),
    },
    { provide: POLICY_ENGINE, inject: [PolicyService], useFactory: (service: PolicyService) => service.manager },
  ],
  exports: [POLICY_ENGINE, PolicyService],
})
export class PolicyModule {}
