import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import type { PolicyEngine } from '@shieldx/policy';
import type { FastifyReply } from 'fastify';
import { POLICY_ENGINE } from '../policy/policy.module';
import { PoolsService, type HealthSnapshot } from '../pools/pools.service';
import { TlsService } from '../tls/tls.service';
import { RedisHealthIndicator } from '../redis/redis.health';
import { LedgerService } from '../ledger/ledger.service';

/** `/healthz` and `/readyz`: Terminus's report (`status` ok or error; 503 with the failed checks in `details`). */
export type HealthCheckAnswer = HealthCheckResult;

/**
 * Terminus's defaults without its OpenAPI decorators: with `@nestjs/swagger` installed they would load that package at
 * start-up (several MB); the document is built on demand instead (`GET /admin/openapi.json`).
 */
const HEALTH_CHECK_OPTIONS = { noCache: true, swaggerDocumentation: false };

/** `/health` (pool status), `/healthz` (liveness) and `/readyz` (readiness), as docs/http-api.md describes. */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly pools: PoolsService,
    @Inject(POLICY_ENGINE) private readonly policy: PolicyEngine,
    private readonly tls: TlsService,
    private readonly redis: RedisHealthIndicator,
    private readonly ledger: LedgerService,
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
  @HealthCheck(HEALTH_CHECK_OPTIONS)
  liveness(): Promise<HealthCheckAnswer> {
    return this.health.check([]);
  }

  /**
   * Readiness: a policy engine is loaded; Redis answers when configured (see RedisHealthIndicator); the serving
   * certificate has not expired when TLS is configured; the audit ledger is writing.
   */
  @Get('readyz')
  @HealthCheck(HEALTH_CHECK_OPTIONS)
  readiness(): Promise<HealthCheckAnswer> {
    return this.health.check([
      () => {
        const indicator = this.indicators.check('policy');
        return this.policy.source === ''
          ? indicator.down({ source: 'none' })
          : indicator.up({ source: this.policy.source });
      },
      ...(this.redis.configured ? [() => this.redis.check()] : []),
      ...(this.tls.enabled ? [() => this.tlsCertificate()] : []),
      () => this.auditLedger(),
    ]);
  }

  /** The audit ledger: down while its writer has failed (events are then counted, not recorded; see LedgerService). */
  private auditLedger() {
    const indicator = this.indicators.check('ledger');
    const { state, lastSeq, syncedSeq, lastError } = this.ledger.status();
    return state === 'up'
      ? indicator.up({ lastSeq, syncedSeq })
      : indicator.down({ state, lastSeq, syncedSeq, error: lastError });
  }

  /** TLS (when configured): down once the serving certificate has expired. */
  private tlsCertificate() {
    const indicator = this.indicators.check('tls');
    const info = this.tls.current;
    const details = {
      notAfter: info === undefined ? null : new Date(info.notAfter).toISOString(),
      secondsLeft: Math.floor(this.tls.secondsLeft() ?? 0),
    };
    return info === undefined || this.tls.expired() ? indicator.down(details) : indicator.up(details);
  }
}
