import { Controller, Get, Inject, UseGuards } from '@nestjs/common';
import type { BreakerStateName } from '@shieldx/lb';
import { anonymizeIp } from '@shieldx/security';
import { QuotaService } from '../advisors/quota.service';
import { ThreatScores } from '../advisors/threat-scores';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { AdminGuard } from './admin.guard';

/** Most recent threat scores `GET /admin/protection` lists. */
const RECENT_THREATS = 50;

/** `GET /admin/protection`: what the adaptive protections see now (docs/admin-api.md). */
export interface ProtectionView {
  readonly threat: {
    readonly enabled: boolean;
    readonly breaker: BreakerStateName;
    /** ORCH_THREAT_ON_ERROR as written: `allow`, `deny` or `score:<n>`. */
    readonly onError: string;
    /** The scores cached now, most recently used first; IPs anonymised unless ORCH_LOG_FULL_IP=1. */
    readonly recent: readonly {
      readonly ip: string;
      readonly score: number;
      readonly reasons: readonly string[];
      readonly fetchedAt: string;
    }[];
  };
  readonly quota: {
    readonly enabled: boolean;
    readonly breaker: BreakerStateName;
    readonly onError: string;
    readonly scopes: readonly string[];
  };
}

/** The admin view of threat scores and quotas. */
@Controller('admin')
@UseGuards(AdminGuard)
export class ProtectionController {
  private readonly showIp: (ip: string) => string;

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly threats: ThreatScores,
    private readonly quota: QuotaService,
  ) {
    this.showIp = config.log.fullIp ? (ip) => ip : anonymizeIp;
  }

  @Get('protection')
  protection(): ProtectionView {
    const { threat, quota } = this.config;
    return {
      threat: {
        enabled: this.threats.enabled,
        breaker: this.threats.breakerState,
        onError: threat.onError.kind === 'score' ? `score:${threat.onError.score}` : threat.onError.kind,
        recent: this.threats.recent(RECENT_THREATS).map((entry) => ({
          ip: this.showIp(entry.ip),
          score: entry.score,
          reasons: entry.reasons,
          fetchedAt: new Date(entry.fetchedAt).toISOString(),
        })),
      },
      quota: {
        enabled: this.quota.enabled,
        breaker: this.quota.breakerState,
        onError: quota.onError,
        scopes: quota.scopes,
      },
    };
  }
}
