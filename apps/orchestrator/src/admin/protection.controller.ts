import { Body, Controller, Get, HttpCode, Inject, Post, Req, UseGuards } from '@nestjs/common';
import type { BreakerStateName } from '@shieldx/lb';
import { anonymizeIp } from '@shieldx/security';
import { QuotaService } from '../advisors/quota.service';
import { AdaptiveProtection } from '../ratelimit/adaptive-protection';
import { ThreatScores } from '../advisors/threat-scores';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import type { FastifyRequest } from 'fastify';
import { IsString, Matches } from '../validation/class-validator';
import { NotTightenedError } from '../errors/errors';
import { SecurityEvents } from '../events/security-events';
import { DtoValidationPipe } from '../validation/validation.pipe';
import { AdminGuard, adminActor } from './admin.guard';

/** Body of `POST /admin/protection/release`: the key as the adaptive limits name it. */
export class ReleaseKeyDto {
  @IsString()
  @Matches(/^(?:ip|tenant):[\x21-\x7e]{1,200}$/, { message: 'key must be ip:<address or network> or tenant:<name>' })
  key!: string;
}

const releaseBody = new DtoValidationPipe(ReleaseKeyDto);

/** Most recent threat scores `GET /admin/protection` lists. */
const RECENT_THREATS = 50;

/** `GET /admin/protection`: what the adaptive protections see now (docs/admin-api.md). */
export interface ProtectionView {
  /** Adaptive rate limiting: the keys tightened or recovering now (rates in requests/s, times ISO 8601). */
  readonly adaptive: {
    readonly mode: 'off' | 'shadow' | 'enforce';
    readonly tightened: readonly {
      readonly key: string;
      /** The instance whose model tightened it (with Redis, every instance applies it). */
      readonly instance: string;
      readonly phase: string;
      readonly baselineRate: number;
      readonly currentRate: number;
      readonly thresholdRate: number;
      readonly factor: number;
      readonly since: string;
    }[];
  };
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

/** `POST /admin/protection/release`: the key has its full limit back. */
export interface ReleaseAnswer {
  readonly key: string;
  readonly released: true;
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
    private readonly adaptive: AdaptiveProtection,
    private readonly events: SecurityEvents,
  ) {
    this.showIp = config.log.fullIp ? (ip) => ip : anonymizeIp;
  }

  @Get('protection')
  protection(): ProtectionView {
    const { threat, quota } = this.config;
    const now = Date.now();
    return {
      adaptive: {
        mode: this.adaptive.mode,
        tightened: this.adaptive.tightenedEverywhere(now).map((info) => ({
          key: this.showKey(info.key),
          instance: info.instance,
          phase: info.phase,
          baselineRate: round(info.baselineRate),
          currentRate: round(info.currentRate),
          thresholdRate: round(info.thresholdRate),
          factor: round(info.factor),
          since: new Date(info.since).toISOString(),
        })),
      },
      threat: {
        enabled: this.threats.enabled,
        breaker: this.threats.breakerState,
        onError: threat.onError.kind === 'score' ? `score:${threat.onError.score}` : threat.onError.kind,
        recent: this.threats.recent(RECENT_THREATS, now).map((entry) => ({
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

  /**
   * Gives a tightened key its full limit back and lets the model learn it afresh (audited), on every instance with
   * Redis. 404 when the key is not tightened or recovering now, here or (with Redis) on another instance.
   */
  @Post('protection/release')
  @HttpCode(200)
  release(@Body(releaseBody) body: ReleaseKeyDto, @Req() request: FastifyRequest): ReleaseAnswer {
    if (!this.adaptive.release(body.key, Date.now())) throw new NotTightenedError(body.key);
    this.events.emit({
      type: 'admin.action',
      corrId: request.id,
      data: { action: 'adaptive.release', key: body.key, actor: adminActor(request) },
    });
    return { key: body.key, released: true };
  }

  /** An `ip:` key with its address masked like the logs' (a `tenant:` key as it is). */
  private showKey(key: string): string {
    return key.startsWith('ip:') ? `ip:${this.showIp(key.slice(3))}` : key;
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
