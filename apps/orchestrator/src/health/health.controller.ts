import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { PolicyEngine } from '@shieldx/policy';
import type { FastifyReply } from 'fastify';
import { POLICY_ENGINE } from '../policy/policy.module';
import { PoolsService, type HealthSnapshot } from '../pools/pools.service';

/** `/health` (pool status), `/healthz` (liveness) and `/readyz` (readiness), as the contract describes. */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly pools: PoolsService,
    @Inject(POLICY_ENGINE) private readonly policy: PolicyEngine,
  ) {}

  /** Pool status; 503 while the healthy ratio is under ORCH_HEALTH_DEGRADED_RATIO. */
  @Get('health')
  @HttpCode(200)
  poolHealth(@Res({ passthrough: true }) reply: FastifyReply): HealthSnapshot {
    const snapshot = this.pools.snapshot();
    if (snapshot.status === 'degraded') reply.code(503);
    return snapshot;
  }

  /** Liveness: the event loop answers. */
  @Get('healthz')
  @HealthCheck()
  liveness() {
    return this.health.check([]);
  }

  /** Readiness: a policy engine is loaded (Redis and certificates join this as they land). */
  @Get('readyz')
  @HealthCheck()
  readiness() {
    return this.health.check([
      () => {
        const indicator = this.indicators.check('policy');
        return this.policy.source === ''
          ? indicator.down({ source: 'none' })
          : indicator.up({ source: this.policy.source });
      },
    ]);
  }
}
