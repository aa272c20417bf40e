import { Body, Controller, Get, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { canonicalPath, type Decision, type PolicyInput, type PolicyStatus } from '@shieldx/policy';
import type { FastifyRequest } from 'fastify';
import { EvaluateRateLimitedError } from '../errors/errors';
import { SecurityEvents } from '../events/security-events';
import type { TopEntry } from '../policy/decision-stats';
import { PolicyService, type CandidateStatus, type RulesReport, type ShadowReport } from '../policy/policy.service';
import { DtoValidationPipe } from '../validation/validation.pipe';
import { AdminGuard, adminActor } from './admin.guard';
import { PolicyEvaluateDto } from './policy-evaluate.dto';

const evaluateBody = new DtoValidationPipe(PolicyEvaluateDto);

/** What-if evaluations allowed per second on one instance, and the burst above that rate. */
const EVALUATE_PER_SECOND = 5;
const EVALUATE_BURST = 20;

/** Tenants and paths `GET /admin/policy/denied` lists. */
const TOP_DENIED = 10;

/** `POST /admin/policy/evaluate`: the input as evaluated and both decisions. */
export interface EvaluateAnswer {
  readonly input: PolicyInput;
  readonly active: Decision;
  /** Null without a loaded candidate. */
  readonly candidate: Decision | null;
  /** True when a candidate answered another action than the active policy. */
  readonly differ: boolean;
}

/** `POST /admin/policy/reload`: the outcome (a rejected policy keeps the last good one) and the status after it. */
export interface PolicyReloadAnswer {
  readonly reloaded: boolean;
  readonly version: number;
  /** Why the policy was rejected (with `reloaded: false`). */
  readonly error?: string;
  readonly status: PolicyStatus;
  readonly candidate: CandidateStatus;
}

/** `POST /admin/policy/promote`: the candidate is the active policy now. */
export interface PromoteAnswer {
  readonly promoted: true;
  readonly version: number;
  readonly source: string;
  readonly status: PolicyStatus;
}

/** `GET /admin/policy/denied`: the tenants and paths denied most. */
export interface DeniedAnswer {
  readonly tenants: TopEntry[];
  readonly paths: TopEntry[];
}

/**
 * `GET /policy` and the policy part of the admin API: reload, rules, the candidate policy (shadow report, promote),
 * what-if evaluation, and the tenants and paths denied most.
 */
@Controller()
export class PolicyController {
  private tokens = EVALUATE_BURST;
  private refilledAt = performance.now();

  constructor(
    private readonly policy: PolicyService,
    private readonly events: SecurityEvents,
  ) {}

  @Get('policy')
  status(): PolicyStatus {
    return this.policy.status();
  }

  /**
   * Forces a reload of the active policy and the candidate; 200 with the outcome either way (a rejected policy keeps
   * the last good one).
   */
  @Post('admin/policy/reload')
  @HttpCode(200)
  @UseGuards(AdminGuard)
  async reload(@Req() request: FastifyRequest): Promise<PolicyReloadAnswer> {
    const outcome = await this.policy.reload('admin', request.id, adminActor(request));
    const status = this.policy.status();
    const candidate = this.policy.candidateStatus();
    return outcome.ok
      ? { reloaded: true, version: outcome.version, status, candidate }
      : { reloaded: false, version: outcome.version, error: outcome.error, status, candidate };
  }

  /** The rules of the active policy and of the candidate: base rules as parsed, Rego when the bundle carries it. */
  @Get('admin/policy/rules')
  @UseGuards(AdminGuard)
  rules(): RulesReport {
    return this.policy.rules();
  }

  /** The candidate policy, the active × candidate matrix on live traffic and the latest divergent requests. */
  @Get('admin/policy/shadow')
  @UseGuards(AdminGuard)
  shadow(): ShadowReport {
    return this.policy.shadowReport();
  }

  /** Makes the candidate the active policy (audited). 404 without a candidate, 409 when its slot is empty. */
  @Post('admin/policy/promote')
  @HttpCode(200)
  @UseGuards(AdminGuard)
  promote(@Req() request: FastifyRequest): PromoteAnswer {
    const outcome = this.policy.promote(adminActor(request), request.id);
    return { promoted: true, version: outcome.version, source: outcome.source, status: this.policy.status() };
  }

  /**
   * What the active policy and the candidate would decide for an input, without routing anything (audited, at most
   * 5 a second with bursts of 20 per instance).
   */
  @Post('admin/policy/evaluate')
  @HttpCode(200)
  @UseGuards(AdminGuard)
  evaluate(@Body(evaluateBody) body: PolicyEvaluateDto, @Req() request: FastifyRequest): EvaluateAnswer {
    this.take();
    const canonical = canonicalPath(body.path);
    const input: PolicyInput = {
      service: body.service,
      tenant: body.tenant,
      scope: body.scope,
      path: canonical.ok ? canonical.path : body.path,
      method: body.method ?? 'GET',
      ip: body.ip ?? '127.0.0.1',
      identity: { uris: body.identityUris ?? [], dns: body.identityDns ?? [] },
      dpop: { jkt: body.dpopJkt ?? null },
      poolHealth: body.poolHealth ?? 1,
      headers: body.userAgent === undefined ? {} : { 'user-agent': body.userAgent },
      ...(body.threatScore === undefined
        ? {}
        : { threat: { score: body.threatScore, reasons: [] }, ip_reputation: 100 - body.threatScore }),
    };
    const { active, candidate } = this.policy.evaluate(input);
    this.events.emit({
      type: 'admin.action',
      corrId: request.id,
      data: {
        action: 'policy.evaluate',
        actor: adminActor(request),
        service: input.service,
        tenant: input.tenant,
        scope: input.scope,
        path: input.path,
        method: input.method,
        active: active.action,
        candidate: candidate?.action ?? null,
      },
    });
    return { input, active, candidate, differ: candidate !== null && candidate.action !== active.action };
  }

  /** The tenants and paths the policy denied most since start (bounded top-k: counts may be overestimated by `error`). */
  @Get('admin/policy/denied')
  @UseGuards(AdminGuard)
  denied(): DeniedAnswer {
    return this.policy.topDenied(TOP_DENIED);
  }

  /** One token of the what-if bucket. @throws EvaluateRateLimitedError when it is empty */
  private take(): void {
    const now = performance.now();
    this.tokens = Math.min(EVALUATE_BURST, this.tokens + ((now - this.refilledAt) / 1000) * EVALUATE_PER_SECOND);
    this.refilledAt = now;
    if (this.tokens < 1) throw new EvaluateRateLimitedError();
    this.tokens--;
  }
}
