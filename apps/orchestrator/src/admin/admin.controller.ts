import { Body, Controller, Delete, Get, HttpCode, Param, Put, Req, Res, UseGuards } from '@nestjs/common';
import type { BackendJSON, BreakerStateName, PoolJSON } from '@shieldx/lb';
import type { PolicyStatus } from '@shieldx/policy';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BreakerMonitor } from '../resilience/breaker-monitor';
import { PolicyService } from '../policy/policy.service';
import { PoolsService } from '../pools/pools.service';
import { DtoValidationPipe } from '../validation/validation.pipe';
import { AdminEventsService, breakerView, type BreakerTransitionView } from './admin-events.service';
import { AdminGuard, adminActor } from './admin.guard';
import type { MetricsSample } from './metrics-sampler';
import { PoolEditDto } from './pool-edit.dto';
import { PoolAdminService, type PoolEditAnswer } from './pool-admin.service';

const poolBody = new DtoValidationPipe(PoolEditDto);

/** One pool in `GET /admin/pools`. */
export interface AdminPoolView extends PoolJSON {
  readonly name: string;
}

/** One backend's breaker in `GET /admin/breakers`. Times in ms; `nextTrialInMs` is set while open. */
export interface BreakerView {
  readonly pool: string;
  readonly backend: string;
  readonly state: BreakerStateName;
  /** Consecutive failures counted while closed. */
  readonly failures: number;
  /** Length of the current (or last) open period. */
  readonly openForMs: number | null;
  /** Time until the breaker admits its half-open trial (0 = the next request or probe takes it). */
  readonly nextTrialInMs: number | null;
  readonly trialInFlight: boolean;
  readonly healthy: boolean;
  readonly lastError: string | null;
}

/** `GET /admin/pools`: every pool and the healthy share of all backends. */
export interface PoolsAnswer {
  readonly health_ratio: number;
  readonly pools: AdminPoolView[];
}

/** `DELETE /admin/pools/<name>`. */
export interface PoolRemovedAnswer {
  readonly pool: string;
  readonly removed: true;
}

/** `GET /admin/breakers`: every breaker now and the latest transitions, oldest first. */
export interface BreakersAnswer {
  readonly breakers: BreakerView[];
  readonly history: BreakerTransitionView[];
}

/** `GET /admin/metrics`: the overview samples, oldest first. */
export interface MetricsAnswer {
  readonly intervalMs: number;
  readonly samples: readonly MetricsSample[];
}

/**
 * The admin API (docs/admin-api.md), every route behind {@link AdminGuard}: pools (list, replace, remove), breakers,
 * policy status, the overview metrics and the event stream. `POST /admin/policy/reload` lives with the policy
 * controller, `GET /admin/audit` and `GET /admin/ledger/verify` with the ledger.
 */
@Controller('admin')
@UseGuards(AdminGuard)
export class AdminController {
  constructor(
    private readonly pools: PoolsService,
    private readonly poolAdmin: PoolAdminService,
    private readonly breakers: BreakerMonitor,
    private readonly policy: PolicyService,
    private readonly hub: AdminEventsService,
  ) {}

  /** Every pool with its backends' health, breaker state, EWMA latency, in-flight count and weight. */
  @Get('pools')
  listPools(): PoolsAnswer {
    const snapshot = this.pools.snapshot();
    return {
      health_ratio: snapshot.health_ratio,
      pools: Object.entries(snapshot.pools).map(([name, pool]) => ({ name, ...pool })),
    };
  }

  /** Creates or replaces a pool: `{urls, algo?, weights?}`. Backends that stay keep their health and breaker. */
  @Put('pools/:name')
  @HttpCode(200)
  putPool(
    @Param('name') name: string,
    @Body(poolBody) body: PoolEditDto,
    @Req() request: FastifyRequest,
  ): Promise<PoolEditAnswer> {
    return this.poolAdmin.put(name, body, { corrId: request.id, actor: adminActor(request) });
  }

  @Delete('pools/:name')
  @HttpCode(200)
  deletePool(@Param('name') name: string, @Req() request: FastifyRequest): PoolRemovedAnswer {
    return this.poolAdmin.remove(name, { corrId: request.id, actor: adminActor(request) });
  }

  /** Every backend's breaker now, and the latest transitions (at most 200, oldest first). */
  @Get('breakers')
  listBreakers(): BreakersAnswer {
    const now = performance.now();
    const breakers: BreakerView[] = [];
    for (const name of this.pools.names()) {
      const pool = this.pools.get(name);
      if (pool === undefined) continue;
      for (const backend of pool.backends) {
        const state = backend.breaker.state;
        const json: BackendJSON = backend.toJSON(now);
        breakers.push({
          pool: name,
          backend: backend.url,
          state: state.kind,
          failures: state.kind === 'closed' ? state.failures : 0,
          openForMs: state.kind === 'closed' ? null : state.openForMs,
          nextTrialInMs: state.kind === 'open' ? Math.max(0, Math.round(state.until - now)) : null,
          trialInFlight: state.kind === 'half_open' && state.trialInFlight,
          healthy: json.healthy,
          lastError: json.last_error,
        });
      }
    }
    const history = this.breakers.recent().map((entry) => breakerView(entry, new Date(entry.at)));
    return { breakers, history };
  }

  /** The running policy: version, source, last reload and error, decision cache figures. */
  @Get('policy')
  policyStatus(): PolicyStatus {
    return this.policy.status();
  }

  /** The overview samples of the last five minutes (one per second), oldest first. */
  @Get('metrics')
  metrics(): MetricsAnswer {
    return { intervalMs: 1000, samples: this.hub.history() };
  }

  /**
   * Server-sent events: `hello`, `pool`, `breaker`, `policy`, `audit` (batched security events) and `metrics` (every
   * second). The reply is taken over from Fastify and written raw until the client leaves or the server stops.
   */
  @Get('events')
  events(@Req() request: FastifyRequest, @Res() reply: FastifyReply): void {
    this.hub.assertCapacity();
    reply.hijack();
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(reply.getHeaders())) {
      if (typeof value === 'string' || typeof value === 'number') headers[key] = String(value);
    }
    request.raw.socket.setNoDelay(true);
    this.hub.open(reply.raw, headers);
  }
}
