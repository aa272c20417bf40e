import { Inject, Injectable, Logger } from '@nestjs/common';
import { type AlgoName, type Backend, type BackendPlace, isLocalityToken, type PoolJSON } from '@shieldx/lb';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { parseBackendUrl } from '../config/parse';
import { Emitter } from '../events/emitter';
import { SecurityEvents } from '../events/security-events';
import { GatewayError, InvalidRequestError, RolloutActiveError } from '../errors/errors';
import { PoolsService } from '../pools/pools.service';
import { RolloutsService } from '../rollouts/rollouts.service';
import { SERVICE_PATTERN } from '../validation/names';
import { ADMIN_RESOLVE_HOST } from './admin.constants';
import { checkBackendTarget, TargetRefusedError, type ResolveHost, type TargetRules } from './backend-target';
import type { PoolEditDto } from './pool-edit.dto';

/** Largest weight the admin API accepts. */
const MAX_WEIGHT = 1_000_000;
/** Largest cost (per 1,000 requests) the admin API accepts. */
const MAX_COST = 1_000_000;
/** Fields of one backend's entry in `meta`. */
const META_FIELDS = new Set(['zone', 'region', 'cost']);

/** 400: a backend URL points where the admin API may not send traffic (SSRF guard). */
export class BackendRefusedError extends GatewayError {
  readonly status = 400;
  readonly code = 'backend_refused';
  constructor(override readonly details: readonly { url: string; reason: string; message: string }[]) {
    super(details.map((d) => d.message).join('; '));
  }
}

/** 404: no pool of that name. */
export class UnknownPoolError extends GatewayError {
  readonly status = 404;
  readonly code = 'unknown_pool';
  constructor(name: string) {
    super(`no pool named '${name}'`);
  }
}

/** One backend of a {@link PoolDefinition}: URL, weight, and zone, region and cost when set. */
export interface BackendDefinition extends BackendPlace {
  readonly url: string;
  readonly weight: number;
}

/**
 * A pool's definition as recorded in `pool.changed` events (and shared by cluster sync): its algorithm and backends
 * with weights and metadata.
 */
export interface PoolDefinition {
  readonly algo: AlgoName;
  readonly backends: readonly BackendDefinition[];
}

/** A backend's definition: its URL and weight, with zone, region and cost only when set. */
export function backendDefinition(b: Backend): BackendDefinition {
  const { zone, region, cost } = b;
  return {
    url: b.url,
    weight: b.weight,
    ...(zone === undefined ? {} : { zone }),
    ...(region === undefined ? {} : { region }),
    ...(cost === undefined ? {} : { cost }),
  };
}

/** A pool changed through the admin API of this instance (what cluster sync publishes to the other instances). */
export interface PoolEdit {
  readonly pool: string;
  /** The definition after the change; null when the pool was removed. */
  readonly after: PoolDefinition | null;
}

/** Who asked, for the events. */
export interface AdminContext {
  readonly corrId: string;
  readonly actor: string;
}

/** Answer of `PUT /admin/pools/<name>`. */
export interface PoolEditAnswer extends PoolJSON {
  readonly pool: string;
  readonly created: boolean;
}

/**
 * Pool edits through the admin API: validates names, URLs and weights, refuses SSRF targets (see
 * {@link checkBackendTarget}; loopback is allowed in insecure dev mode, everything with ORCH_ADMIN_ALLOW_PRIVATE),
 * applies the change through {@link PoolsService.define} (backends whose URL stays keep their health, latency and
 * breaker; the health prober probes new ones at once), and records `pool.changed` with the definition before and
 * after, and `admin.action`. Changes live in this instance's memory until restart.
 */
@Injectable()
export class PoolAdminService {
  private readonly rules: TargetRules;
  private readonly logger = new Logger('admin');
  private readonly edits = new Emitter<PoolEdit>((error, edit) =>
    this.logger.error({ event: 'pool_edit_listener_failed', pool: edit.pool, err: error }),
  );

  constructor(
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
    private readonly pools: PoolsService,
    private readonly events: SecurityEvents,
    @Inject(ADMIN_RESOLVE_HOST) private readonly resolve: ResolveHost,
    private readonly rollouts: RolloutsService,
  ) {
    this.rules = { allowPrivate: config.admin.allowPrivate, allowLoopback: config.listen.insecure };
  }

  /** Creates or replaces pool `name`. @throws InvalidRequestError, BackendRefusedError */
  async put(name: string, body: PoolEditDto, ctx: AdminContext): Promise<PoolEditAnswer> {
    checkPoolName(name);
    this.refuseRolling(name);
    const problems: { field: string; messages: string[] }[] = [];
    const urls: string[] = [];
    body.urls.forEach((raw, i) => {
      try {
        const url = parseBackendUrl(raw);
        if (urls.includes(url)) throw new Error(`'${raw}' is listed twice`);
        urls.push(url);
      } catch (error) {
        problems.push({ field: `urls[${i}]`, messages: [(error as Error).message] });
      }
    });
    const weights = new Map<string, number>();
    for (const [raw, weight] of Object.entries(body.weights ?? {})) {
      let url: string;
      try {
        url = parseBackendUrl(raw);
      } catch (error) {
        problems.push({ field: `weights`, messages: [(error as Error).message] });
        continue;
      }
      if (!urls.includes(url)) problems.push({ field: 'weights', messages: [`'${raw}' is not one of the urls`] });
      else if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0 || weight > MAX_WEIGHT) {
        problems.push({
          field: 'weights',
          messages: [`weight of '${raw}' must be a number > 0 and ≤ ${MAX_WEIGHT}, got ${JSON.stringify(weight)}`],
        });
      } else weights.set(url, weight);
    }
    const places = new Map<string, BackendPlace>();
    for (const [raw, meta] of Object.entries(body.meta ?? {})) {
      let url: string;
      try {
        url = parseBackendUrl(raw);
      } catch (error) {
        problems.push({ field: 'meta', messages: [(error as Error).message] });
        continue;
      }
      if (!urls.includes(url)) {
        problems.push({ field: 'meta', messages: [`'${raw}' is not one of the urls`] });
        continue;
      }
      const checked = checkMeta(raw, meta);
      if (typeof checked === 'string') problems.push({ field: 'meta', messages: [checked] });
      else places.set(url, checked);
    }
    if (problems.length > 0) {
      throw new InvalidRequestError('invalid_request', problems.flatMap((p) => p.messages).join('; '), problems);
    }
    await this.checkTargets(urls, 'pool.put', name, ctx);
    // A rollout may have started while the targets were checked.
    this.refuseRolling(name);

    const before = this.definition(name);
    const pool = this.pools.define(
      name,
      urls.map((url) => ({ url, weight: weights.get(url) ?? 1, ...places.get(url) })),
      body.algo,
    );
    const after = this.definition(name);
    const kind = before === null ? 'created' : 'updated';
    this.events.emit({
      type: 'pool.changed',
      corrId: ctx.corrId,
      data: { pool: name, kind, before, after, actor: ctx.actor },
    });
    this.events.emit({
      type: 'admin.action',
      corrId: ctx.corrId,
      data: { action: 'pool.put', pool: name, actor: ctx.actor },
    });
    this.edits.emit({ pool: name, after });
    return { pool: name, created: before === null, ...pool.toJSON() };
  }

  /** Calls `listener` after every pool edit made through this instance's admin API; returns the unsubscribe. */
  onEdit(listener: (edit: PoolEdit) => void): () => void {
    return this.edits.on(listener);
  }

  /** Removes pool `name`. @throws UnknownPoolError */
  remove(name: string, ctx: AdminContext): { pool: string; removed: true } {
    checkPoolName(name);
    this.refuseRolling(name);
    const before = this.definition(name);
    if (before === null || !this.pools.remove(name)) throw new UnknownPoolError(name);
    this.events.emit({
      type: 'pool.changed',
      corrId: ctx.corrId,
      data: { pool: name, kind: 'removed', before, after: null, actor: ctx.actor },
    });
    this.events.emit({
      type: 'admin.action',
      corrId: ctx.corrId,
      data: { action: 'pool.delete', pool: name, actor: ctx.actor },
    });
    this.edits.emit({ pool: name, after: null });
    return { pool: name, removed: true };
  }

  /** A pool under a live rollout is the rollout's: its edits wait for the end. @throws RolloutActiveError */
  private refuseRolling(name: string): void {
    if (this.rollouts.isLive(name)) throw new RolloutActiveError(name, this.rollouts.stateOf(name)?.state ?? 'running');
  }

  /**
   * Refuses backends the pool edits' SSRF rules do not allow ({@link checkBackendTarget}), all named at once. A
   * refusal is an admin action refused, so it is logged and audited (`admin.action` `action` with `result: 'refused'`,
   * the actor and each URL with its class): an attempt to point the gateway at instance metadata or at its own
   * loopback is what the ledger is for, and it would otherwise leave no trace.
   * @param action the admin action being checked (`pool.put`, `rollout.put`), for the record
   * @throws BackendRefusedError
   */
  async checkTargets(urls: readonly string[], action: string, pool: string, ctx: AdminContext): Promise<void> {
    const verdicts = await Promise.all(
      urls.map(async (url) => {
        try {
          await checkBackendTarget(url, this.rules, this.resolve);
          return undefined;
        } catch (error) {
          if (!(error instanceof TargetRefusedError)) throw error;
          return { url, reason: error.targetClass, message: error.message };
        }
      }),
    );
    const refused = verdicts.filter((verdict) => verdict !== undefined);
    if (refused.length === 0) return;
    const targets = refused.map(({ url, reason }) => ({ url, reason }));
    this.logger.warn({ event: 'backend_refused', action, pool, actor: ctx.actor, refused: targets });
    this.events.emit({
      type: 'admin.action',
      corrId: ctx.corrId,
      data: { action, result: 'refused', error: 'backend_refused', pool, actor: ctx.actor, refused: targets },
    });
    throw new BackendRefusedError(refused);
  }

  /** The pool's algorithm and backends with weights and metadata, or null when there is none. */
  definition(name: string): PoolDefinition | null {
    const pool = this.pools.get(name);
    if (pool === undefined) return null;
    return { algo: pool.algo, backends: pool.backends.map(backendDefinition) };
  }
}

/** One entry of `meta`: the checked place, or the message saying what is wrong with it. */
function checkMeta(raw: string, meta: unknown): BackendPlace | string {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    return `meta of '${raw}' must be an object {zone?, region?, cost?}`;
  }
  const fields = meta as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!META_FIELDS.has(key)) return `meta of '${raw}': unknown field "${key}" (zone, region, cost)`;
  }
  const { zone, region, cost } = fields;
  if (zone !== undefined && !isLocalityToken(zone)) {
    return `zone of '${raw}' must be a lowercase label (1-63 of a-z, 0-9, -), got ${JSON.stringify(zone)}`;
  }
  if (region !== undefined && !isLocalityToken(region)) {
    return `region of '${raw}' must be a lowercase label (1-63 of a-z, 0-9, -), got ${JSON.stringify(region)}`;
  }
  if (cost !== undefined && (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0 || cost > MAX_COST)) {
    return `cost of '${raw}' must be a number >= 0 and ≤ ${MAX_COST}, got ${JSON.stringify(cost)}`;
  }
  return {
    ...(zone === undefined ? {} : { zone }),
    ...(region === undefined ? {} : { region }),
    ...(cost === undefined ? {} : { cost }),
  };
}

/** Refuses a pool name the admin API does not accept (400 `invalid_pool_name`). */
export function checkPoolName(name: string): void {
  if (!SERVICE_PATTERN.test(name)) {
    throw new InvalidRequestError('invalid_pool_name', `'${name}' is not a pool name (${SERVICE_PATTERN.source})`);
  }
}
