import { Inject, Injectable } from '@nestjs/common';
import { isAlgoName, type AlgoName, type Pool } from '@shieldx/lb';
import type { Decision, PolicyEngine, PolicyInput } from '@shieldx/policy';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { SecurityEvents } from '../events/security-events';
import {
  InvalidRequestError,
  NoHealthyBackendError,
  PolicyDeniedError,
  TarpitFullError,
  UnknownServiceError,
} from '../http/errors';
import type { GatewayRequestState } from '../http/request-state';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { POLICY_ENGINE } from '../policy/policy.module';
import { PoolsService } from '../pools/pools.service';
import { RateLimitService } from '../ratelimit/rate-limit.service';
import type { RouteRequestDto } from './route-request.dto';

/** The `POST /route` answer (contract). `policy` is the action taken. */
export interface RouteAnswer {
  target: string;
  algo: AlgoName;
  policy: Decision['action'];
  healthy: boolean;
  pool: string;
  cached: boolean;
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
}

const NO_HEADERS: PolicyInput['headers'] = Object.freeze({});
/** Longest hold a policy may ask for; longer values are clamped. */
const TARPIT_MAX_MS = 30_000;
/** Hold used when a tarpit decision names no time. */
const TARPIT_DEFAULT_MS = 1000;

/** The empty identity, for callers without a verified certificate. */
export const ANONYMOUS: PolicyInput['identity'] = Object.freeze({ uris: Object.freeze([]), dns: Object.freeze([]) });

/**
 * The routing engine behind `POST /route` (and later `/proxy`): tenant rate limit → policy → action → balancer.
 * Synchronous wherever its ports answer synchronously; returns a promise only when one of them (or a tarpit) waits.
 */
@Injectable()
export class RouteService {
  private tarpitted = 0;

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    @Inject(POLICY_ENGINE) private readonly policy: PolicyEngine,
    private readonly pools: PoolsService,
    private readonly limits: RateLimitService,
    private readonly metrics: GatewayMetrics,
    private readonly events: SecurityEvents,
  ) {}

  /** Requests currently held in the tarpit. */
  get tarpitActive(): number {
    return this.tarpitted;
  }

  route(body: RouteRequestDto, ctx: RouteContext): RouteAnswer | Promise<RouteAnswer> {
    const override = this.algoOverride(ctx.algoHeader) ?? body.algo;
    const pool = this.resolvePool(body);
    ctx.state.tenant = body.tenant;
    const limited = this.limits.checkTenant(body.tenant, ctx.state, ctx.corrId);
    if (limited instanceof Promise) return limited.then(() => this.decide(body, ctx, pool, override));
    return this.decide(body, ctx, pool, override);
  }

  private decide(
    body: RouteRequestDto,
    ctx: RouteContext,
    pool: Pool,
    algo: AlgoName | undefined,
  ): RouteAnswer | Promise<RouteAnswer> {
    const input: PolicyInput = {
      service: body.service,
      tenant: body.tenant,
      scope: body.scope,
      path: body.path,
      method: ctx.method,
      ip: ctx.state.clientIp,
      identity: ctx.identity,
      dpop: { jkt: ctx.dpopJkt },
      poolHealth: pool.backends.length === 0 ? 0 : pool.healthyCount() / pool.backends.length,
      headers: ctx.userAgent === undefined ? NO_HEADERS : { 'user-agent': ctx.userAgent },
    };
    const decision = this.policy.decide(input);
    if (decision instanceof Promise) return decision.then((d) => this.act(d, body, ctx, pool, algo));
    return this.act(decision, body, ctx, pool, algo);
  }

  private act(
    decision: Decision,
    body: RouteRequestDto,
    ctx: RouteContext,
    pool: Pool,
    algo: AlgoName | undefined,
  ): RouteAnswer | Promise<RouteAnswer> {
    ctx.state.action = decision.action;
    const cached = (decision as { cached?: boolean }).cached === true;
    switch (decision.action) {
      case 'allow':
        return this.pick(pool, body, ctx, algo, 'allow', cached);
      case 'deny':
        this.metrics.denied('policy');
        this.events.emit({ type: 'policy.deny', corrId: ctx.corrId, data: this.eventData(body, decision) });
        throw new PolicyDeniedError(decision.reason);
      case 'divert': {
        const target = decision.divertTo ?? this.config.policy.divertPool;
        const divertPool = target === undefined ? undefined : this.pools.get(target);
        this.events.emit({
          type: 'policy.divert',
          corrId: ctx.corrId,
          data: { ...this.eventData(body, decision), divertTo: target ?? null },
        });
        if (divertPool === undefined) throw new NoHealthyBackendError(target ?? '(no divert pool configured)');
        return this.pick(divertPool, body, ctx, algo, 'divert', cached);
      }
      case 'tarpit':
        return this.tarpit(decision, body, ctx, pool, algo, cached);
      default: {
        const never: never = decision.action;
        throw new Error(`unknown policy action ${String(never)}`);
      }
    }
  }

  private tarpit(
    decision: Decision,
    body: RouteRequestDto,
    ctx: RouteContext,
    pool: Pool,
    algo: AlgoName | undefined,
    cached: boolean,
  ): Promise<RouteAnswer> {
    if (this.tarpitted >= this.config.policy.tarpitMax) {
      this.metrics.denied('tarpit_full');
      throw new TarpitFullError();
    }
    const holdMs = Math.min(Math.max(decision.tarpitMs ?? TARPIT_DEFAULT_MS, 0), TARPIT_MAX_MS);
    this.events.emit({
      type: 'policy.tarpit',
      corrId: ctx.corrId,
      data: { ...this.eventData(body, decision), holdMs },
    });
    this.metrics.tarpitHeld(++this.tarpitted);
    return new Promise<void>((resolve) => setTimeout(resolve, holdMs)).then(() => {
      this.metrics.tarpitHeld(--this.tarpitted);
      return this.pick(pool, body, ctx, algo, 'tarpit', cached);
    });
  }

  private pick(
    pool: Pool,
    body: RouteRequestDto,
    ctx: RouteContext,
    algo: AlgoName | undefined,
    action: Decision['action'],
    cached: boolean,
  ): RouteAnswer {
    // `/route` only names the target: the caller's request never passes through us, so nothing is reserved.
    const picked = pool.pick({ key: body.hashKey ?? ctx.state.clientIp, reserve: false }, algo);
    if (picked === undefined) throw new NoHealthyBackendError(pool.name);
    this.metrics.picked(pool.name, picked.algo, picked.healthy);
    this.metrics.routed(action);
    ctx.state.backend = picked.backend.url;
    return {
      target: picked.backend.url,
      algo: picked.algo,
      policy: action,
      healthy: picked.healthy,
      pool: pool.name,
      cached,
    };
  }

  private resolvePool(body: RouteRequestDto): Pool {
    if (body.candidates !== undefined) return this.pools.adHoc(body.service, body.candidates);
    const pool = this.pools.get(body.service);
    if (pool === undefined) throw new UnknownServiceError(body.service);
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

  private eventData(body: RouteRequestDto, decision: Decision): Record<string, unknown> {
    return {
      service: body.service,
      tenant: body.tenant,
      scope: body.scope,
      path: body.path,
      reason: decision.reason ?? null,
    };
  }
}
