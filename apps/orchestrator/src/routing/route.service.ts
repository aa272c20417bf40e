import { Inject, Injectable } from '@nestjs/common';
import { isAlgoName, type AlgoName, type Backend, type LocalityTier, type PickResult, type Pool } from '@shieldx/lb';
import type { Decision, PolicyAction, PolicyEngine, PolicyInput, ThreatVerdict } from '@shieldx/policy';
import { QuotaService } from '../advisors/quota.service';
import { ThreatScores } from '../advisors/threat-scores';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import type { DecisionEventData } from '../events/security-event';
import { SecurityEvents } from '../events/security-events';
import {
  GatewayError,
  InvalidRequestError,
  NoHealthyBackendError,
  PolicyDeniedError,
  TarpitFullError,
  UnknownServiceError,
} from '../errors/errors';
import type { GatewayRequestState } from '../request/request-state';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { RoutingMetrics } from './routing-metrics';
import { POLICY_ENGINE } from '../policy/policy.module';
import { PoolsService } from '../pools/pools.service';
import { RateLimitService } from '../ratelimit/rate-limit.service';
import { RolloutsService } from '../rollouts/rollouts.service';
import { traced, tracedSync } from '../tracing/spans';
import { TenantBinding } from './tenant-binding';

/**
 * The `POST /route` answer (docs/http-api.md). `policy` is the action taken; `locality` the tier the target was picked
 * from, present only when locality applied to the pick (the pool is locality-aware and the gateway or client has a
 * place).
 */
export interface RouteAnswer {
  target: string;
  algo: AlgoName;
  policy: Decision['action'];
  healthy: boolean;
  pool: string;
  cached: boolean;
  locality?: LocalityTier;
}

/** One routing question: from the `/route` body, or from a `/proxy` request line and headers. */
export interface RoutingRequest {
  readonly service: string;
  readonly tenant: string;
  readonly scope: string;
  readonly path: string;
  readonly hashKey?: string;
  readonly algo?: AlgoName;
  readonly candidates?: readonly string[];
}

/** What the pipeline decided before a backend is picked: the pool, the algorithm and the policy's action. */
export interface RoutePlan {
  readonly pool: Pool;
  /** Algorithm for this request (undefined: the pool's). */
  readonly algo: AlgoName | undefined;
  readonly action: PolicyAction;
  readonly cached: boolean;
  /** Rendezvous key: the request's hashKey, else the client IP. */
  readonly key: string;
  /** The client's region, when known: preferred by locality-aware pools over the gateway's place. */
  readonly region?: string;
}

/** What the transport layer knows about the caller of one request. */
export interface RouteContext {
  readonly corrId: string;
  readonly method: string;
  /** Raw `X-LB-Algo` header, if any. */
  readonly algoHeader: string | undefined;
  readonly state: GatewayRequestState;
  readonly identity: PolicyInput['identity'];
  readonly dpopJkt: string | null;
  /** The caller's `User-Agent`, given to the policy. */
  readonly userAgent: string | undefined;
  /** The client's region ({@link import('./client-regions').ClientRegions}), when known. */
  readonly clientRegion?: string;
}

const NO_HEADERS: PolicyInput['headers'] = Object.freeze({});
/** Longest hold a policy may ask for; longer values are clamped. */
const TARPIT_MAX_MS = 30_000;
/** Hold used when a tarpit decision names no time. */
const TARPIT_DEFAULT_MS = 1000;

/** The empty identity, for callers without a verified certificate. */
export const ANONYMOUS: PolicyInput['identity'] = Object.freeze({ uris: Object.freeze([]), dns: Object.freeze([]) });

/**
 * The routing engine behind `POST /route` and `/proxy`: tenant rate limit → policy → action → balancer. Synchronous
 * wherever its ports answer synchronously; returns a promise only when one of them (or a tarpit) waits.
 */
@Injectable()
export class RouteService {
  private tarpitted = 0;
  private readonly tenants: TenantBinding;

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    @Inject(POLICY_ENGINE) private readonly policy: PolicyEngine,
    private readonly pools: PoolsService,
    private readonly limits: RateLimitService,
    private readonly metrics: GatewayMetrics,
    private readonly routingMetrics: RoutingMetrics,
    private readonly events: SecurityEvents,
    private readonly threats: ThreatScores,
    private readonly quota: QuotaService,
    private readonly rollouts: RolloutsService,
  ) {
    this.tenants = new TenantBinding(config.tenant);
  }

  /** Requests currently held in the tarpit. */
  get tarpitActive(): number {
    return this.tarpitted;
  }

  /** `POST /route`: plans, then names a target without reserving it (the caller's request never passes through us). */
  route(request: RoutingRequest, ctx: RouteContext): RouteAnswer | Promise<RouteAnswer> {
    const plan = this.plan(request, ctx);
    return plan instanceof Promise ? plan.then((p) => this.answer(p, ctx)) : this.answer(plan, ctx);
  }

  /**
   * Everything before the pick: algorithm override, pool, tenant token bucket, policy, and the action (deny throws,
   * divert changes the pool, tarpit waits on a timer).
   */
  plan(request: RoutingRequest, ctx: RouteContext): RoutePlan | Promise<RoutePlan> {
    const algo = this.algoOverride(ctx.algoHeader) ?? request.algo;
    const pool = this.resolvePool(request);
    ctx.state.tenant = request.tenant;
    if (this.tenants.active) this.checkTenantBinding(request.tenant, ctx);
    const trace = ctx.state.trace;
    const limited =
      trace === undefined
        ? this.limits.checkTenant(request.tenant, ctx.state, ctx.corrId)
        : traced(trace, 'ratelimit.tenant', () => this.limits.checkTenant(request.tenant, ctx.state, ctx.corrId));
    if (limited instanceof Promise) return limited.then(() => this.decide(request, ctx, pool, algo));
    return this.decide(request, ctx, pool, algo);
  }

  /** Refuses a tenant the caller may not be served as (ORCH_TENANT_FROM, ORCH_TENANTS), recording why. */
  private checkTenantBinding(tenant: string, ctx: RouteContext): void {
    try {
      this.tenants.resolve(tenant, {
        identity: ctx.identity,
        dpopJkt: ctx.dpopJkt,
        admissionKeyId: ctx.state.admissionKeyId,
      });
    } catch (error) {
      if (error instanceof GatewayError) {
        this.metrics.denied('tenant');
        this.events.emit({ type: 'auth.failed', corrId: ctx.corrId, data: { reason: error.code, tenant } });
      }
      throw error;
    }
  }

  /**
   * Picks a backend for a plan. `reserve` acquires it and takes a half-open trial (the proxy will report the
   * outcome); `exclude` skips backends that already failed this request. Throws {@link NoHealthyBackendError}.
   */
  pick(plan: RoutePlan, ctx: RouteContext, reserve: boolean, exclude?: readonly Backend[]): PickResult {
    const trace = ctx.state.trace;
    const region = plan.region;
    // Under a rollout the step's share of picks goes to the canary set; when none of it can serve, stable does.
    const side = this.rollouts.route(plan.pool, plan.key);
    let picked =
      trace === undefined
        ? side.pick({ key: plan.key, reserve, exclude, region }, plan.algo)
        : tracedSync(trace, 'balancer.pick', () => side.pick({ key: plan.key, reserve, exclude, region }, plan.algo));
    if (picked === undefined && side !== plan.pool) {
      picked = plan.pool.pick({ key: plan.key, reserve, exclude, region }, plan.algo);
    }
    if (picked === undefined) throw new NoHealthyBackendError(plan.pool.name);
    const label = this.pools.labelOf(plan.pool);
    this.routingMetrics.picked(label, picked.algo, picked.healthy);
    if (picked.locality !== undefined) this.routingMetrics.localityPicked(label, picked.locality);
    ctx.state.backend = picked.backend.url;
    return picked;
  }

  private answer(plan: RoutePlan, ctx: RouteContext): RouteAnswer {
    const picked = this.pick(plan, ctx, false);
    this.metrics.routed(plan.action);
    const answer: RouteAnswer = {
      target: picked.backend.url,
      algo: picked.algo,
      policy: plan.action,
      healthy: picked.healthy,
      pool: plan.pool.name,
      cached: plan.cached,
    };
    if (picked.locality !== undefined) answer.locality = picked.locality;
    return answer;
  }

  /** The client IP's threat score first, when a threat service is configured (a cached one costs no await). */
  private decide(
    request: RoutingRequest,
    ctx: RouteContext,
    pool: Pool,
    algo: AlgoName | undefined,
  ): RoutePlan | Promise<RoutePlan> {
    if (!this.threats.enabled) return this.decideWith(request, ctx, pool, algo, undefined);
    const verdict = this.threats.scoreOf(ctx.state.clientIp, request.tenant);
    if (verdict instanceof Promise) return verdict.then((v) => this.decideWith(request, ctx, pool, algo, v));
    return this.decideWith(request, ctx, pool, algo, verdict);
  }

  private decideWith(
    request: RoutingRequest,
    ctx: RouteContext,
    pool: Pool,
    algo: AlgoName | undefined,
    threat: ThreatVerdict | undefined,
  ): RoutePlan | Promise<RoutePlan> {
    const input: PolicyInput = {
      service: request.service,
      tenant: request.tenant,
      scope: request.scope,
      path: request.path,
      method: ctx.method,
      ip: ctx.state.clientIp,
      identity: ctx.identity,
      dpop: { jkt: ctx.dpopJkt },
      poolHealth: pool.backends.length === 0 ? 0 : pool.healthyCount() / pool.backends.length,
      headers: ctx.userAgent === undefined ? NO_HEADERS : { 'user-agent': ctx.userAgent },
      ...(threat === undefined ? {} : { threat, ip_reputation: 100 - threat.score }),
    };
    const trace = ctx.state.trace;
    const decision =
      trace === undefined ? this.policy.decide(input) : traced(trace, 'policy', () => this.policy.decide(input));
    if (decision instanceof Promise) return decision.then((d) => this.charged(d, request, ctx, pool, algo));
    return this.charged(decision, request, ctx, pool, algo);
  }

  /**
   * Acts on the decision, then charges the tenant's quota when the request costs any (ORCH_QUOTA_SCOPES, or the
   * decision's `cost`): a denied request is never charged, a held one after its hold.
   */
  private charged(
    decision: Decision,
    request: RoutingRequest,
    ctx: RouteContext,
    pool: Pool,
    algo: AlgoName | undefined,
  ): RoutePlan | Promise<RoutePlan> {
    const plan = this.act(decision, request, ctx, pool, algo);
    const cost = this.quota.costOf(request.scope, decision.cost);
    if (cost === 0) return plan;
    const charge = async (p: RoutePlan): Promise<RoutePlan> => {
      const remaining = await this.quota.charge(request.tenant, request.scope, cost);
      if (remaining !== undefined) ctx.state.quotaRemaining = remaining;
      return p;
    };
    return plan instanceof Promise ? plan.then(charge) : charge(plan);
  }

  private act(
    decision: Decision,
    request: RoutingRequest,
    ctx: RouteContext,
    pool: Pool,
    algo: AlgoName | undefined,
  ): RoutePlan | Promise<RoutePlan> {
    ctx.state.action = decision.action;
    const plan = {
      pool,
      algo,
      action: decision.action,
      cached: decision.cached === true,
      key: request.hashKey ?? ctx.state.clientIp,
      region: ctx.clientRegion,
    };
    switch (decision.action) {
      case 'allow':
        return plan;
      case 'deny':
        this.metrics.denied('policy');
        this.events.emit({ type: 'policy.deny', corrId: ctx.corrId, data: this.eventData(request, decision) });
        throw new PolicyDeniedError(decision.reason);
      case 'divert': {
        const target = decision.divertTo ?? this.config.policy.divertPool;
        const divertPool = target === undefined ? undefined : this.pools.get(target);
        this.events.emit({
          type: 'policy.divert',
          corrId: ctx.corrId,
          data: { ...this.eventData(request, decision), divertTo: target ?? null },
        });
        if (divertPool === undefined) throw new NoHealthyBackendError(target ?? '(no divert pool configured)');
        return { ...plan, pool: divertPool };
      }
      case 'tarpit':
        return this.tarpit(decision, request, ctx, plan);
      default: {
        const never: never = decision.action;
        throw new Error(`unknown policy action ${String(never)}`);
      }
    }
  }

  private tarpit(decision: Decision, request: RoutingRequest, ctx: RouteContext, plan: RoutePlan): Promise<RoutePlan> {
    if (this.tarpitted >= this.config.policy.tarpitMax) {
      this.metrics.denied('tarpit_full');
      throw new TarpitFullError();
    }
    const holdMs = Math.min(Math.max(decision.tarpitMs ?? TARPIT_DEFAULT_MS, 0), TARPIT_MAX_MS);
    this.events.emit({
      type: 'policy.tarpit',
      corrId: ctx.corrId,
      data: { ...this.eventData(request, decision), holdMs },
    });
    this.routingMetrics.tarpitHeld(++this.tarpitted);
    return new Promise<RoutePlan>((resolve) =>
      setTimeout(() => {
        this.routingMetrics.tarpitHeld(--this.tarpitted);
        resolve(plan);
      }, holdMs),
    );
  }

  private resolvePool(request: RoutingRequest): Pool {
    if (request.candidates !== undefined) return this.pools.adHoc(request.service, request.candidates);
    const pool = this.pools.get(request.service);
    if (pool === undefined) throw new UnknownServiceError(request.service);
    return pool;
  }

  private algoOverride(header: string | undefined): AlgoName | undefined {
    if (header === undefined) return undefined;
    const name = header.trim();
    if (!isAlgoName(name)) {
      throw new InvalidRequestError(
        'invalid_algo',
        `X-LB-Algo must be one of round_robin, least_conn, ewma, p2c, rendezvous`,
      );
    }
    return name;
  }

  private eventData(request: RoutingRequest, decision: Decision): DecisionEventData {
    return {
      service: request.service,
      tenant: request.tenant,
      scope: request.scope,
      path: request.path,
      reason: decision.reason ?? null,
    };
  }
}
