import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { type Backend, hashString64, type Pool } from '@shieldx/lb';
import { WALL_CLOCK } from '../clock/clock';
import { RolloutConflictError, UnknownRolloutError } from '../errors/errors';
import { SecurityEvents } from '../events/security-events';
import { PoolsService } from '../pools/pools.service';
import { Rollout, type RolloutSide, type RolloutSpec, type RolloutTransition, type RolloutView } from './rollout';
import { RolloutMetrics } from './rollout-metrics';

/** Seed of the key hash that places a sticky key on a side, apart from the balancers' own key hashes. */
const SIDE_SEED = 0x726f6c6c;
/** 2^-32: turns the high 32 bits of a key hash into a uniform share in [0, 1). */
const UNIT_32 = 1 / 4294967296;
/** Actor of the transitions the analysis makes on its own. */
const GATEWAY_ACTOR = 'gateway';

/** A rollout to start: the pool, its stable and canary URLs (already checked) and the spec. */
export interface RolloutStart {
  readonly pool: string;
  readonly stable: readonly string[];
  readonly canary: readonly string[];
  readonly spec: RolloutSpec;
}

/** A rollout as the admin API shows it. */
export interface RolloutAnswer extends RolloutView {
  readonly pool: string;
  readonly stableUrls: readonly string[];
  readonly canaryUrls: readonly string[];
}

/** One pool's rollout with its canary pool and split state. */
interface Run {
  readonly name: string;
  readonly rollout: Rollout;
  readonly stableUrls: readonly string[];
  readonly canaryUrls: readonly string[];
  readonly canary: Pool;
  readonly canaryBackends: ReadonlySet<Backend>;
  /** Running share of picks owed to the canary (percent points), for the exact weighted split. */
  credit: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Progressive delivery of pools. The pool keeps its name and is the stable set; the rollout owns a second, detached
 * {@link Pool} of the canary's backends. {@link route} sends the step's share of picks to the canary (an exact
 * weighted split, or by key hash when sticky) and the rest to the pool; the proxy reports each attempt's outcome
 * ({@link record}); a timer per rollout runs the interval analysis. On promotion the pool is redefined as the canary
 * set; on rollback or abort the pool stays as it is. Every transition is a `rollout.step` security event.
 */
@Injectable()
export class RolloutsService implements OnModuleDestroy {
  private readonly runs = new Map<string, Run>();
  /** The runs whose traffic is split now (running or paused): the only ones {@link route} looks at. */
  private readonly live = new Map<string, Run>();
  private readonly logger = new Logger('rollouts');
  private readonly keyHash = { hi: 0, lo: 0 };

  constructor(
    private readonly pools: PoolsService,
    private readonly events: SecurityEvents,
    private readonly metrics: RolloutMetrics,
    @Inject(WALL_CLOCK) private readonly clock: { now(): number },
  ) {}

  /**
   * The pool one pick should use: the canary's for the step's share of picks, else `pool` itself. Only configured
   * pools under a live rollout are split; no allocation per call.
   */
  route(pool: Pool, key: string): Pool {
    if (this.live.size === 0) return pool;
    const run = this.live.get(pool.name);
    if (run === undefined || this.pools.get(pool.name) !== pool) return pool;
    const percent = run.rollout.percent;
    if (percent <= 0) return pool;
    if (run.rollout.spec.sticky) {
      const share = hashString64(key, SIDE_SEED, this.keyHash).hi * UNIT_32 * 100;
      return share < percent ? run.canary : pool;
    }
    run.credit += percent;
    if (run.credit < 100) return pool;
    run.credit -= 100;
    return run.canary;
  }

  /**
   * Counts one proxied attempt on `backend` picked for `pool` (failed: a 5xx or no answer; `ms`: time to headers).
   * Ignored unless the pool is under a live rollout.
   */
  record(pool: Pool, backend: Backend, failed: boolean, ms: number | null): void {
    if (this.live.size === 0) return;
    const run = this.live.get(pool.name);
    if (run === undefined) return;
    const side: RolloutSide = run.canaryBackends.has(backend) ? 'canary' : 'stable';
    this.metrics.request(run.name, side, failed ? 'error' : 'ok');
    const transition = run.rollout.record(side, failed, ms, this.clock.now());
    if (transition !== undefined) this.apply(run, transition, GATEWAY_ACTOR, null);
  }

  /** Starts a rollout of `start.pool` (which must already be the stable set). @throws RolloutConflictError */
  start(start: RolloutStart, actor: string, corrId: string): RolloutAnswer {
    const existing = this.runs.get(start.pool);
    if (existing !== undefined && existing.rollout.live) {
      throw new RolloutConflictError(`pool '${start.pool}' already has a ${existing.rollout.state} rollout`);
    }
    if (existing !== undefined) this.stop(existing);
    const canary = this.pools.detached(start.pool, start.canary);
    const run: Run = {
      name: start.pool,
      rollout: new Rollout(start.spec, this.clock.now()),
      stableUrls: start.stable,
      canaryUrls: start.canary,
      canary,
      canaryBackends: new Set(canary.backends),
      credit: 0,
      timer: undefined,
    };
    this.runs.set(start.pool, run);
    this.live.set(start.pool, run);
    this.publish(run, run.rollout.history[0], actor, corrId);
    this.arm(run);
    return this.answer(run);
  }

  /** Every rollout, live or final. */
  list(): RolloutAnswer[] {
    return [...this.runs.values()].map((run) => this.answer(run));
  }

  /** The rollout of `pool`. @throws UnknownRolloutError */
  get(pool: string): RolloutAnswer {
    return this.answer(this.runOf(pool));
  }

  /** True when `pool` has a live rollout. */
  isLive(pool: string): boolean {
    return this.live.has(pool);
  }

  /** Pause, resume, promote or abort `pool`'s rollout. @throws UnknownRolloutError, RolloutConflictError */
  act(pool: string, action: 'pause' | 'resume' | 'promote' | 'abort', actor: string, corrId: string): RolloutAnswer {
    const run = this.runOf(pool);
    const now = this.clock.now();
    const rollout = run.rollout;
    const reason = `${action} by ${actor}`;
    const transition =
      action === 'pause'
        ? rollout.pause(now, reason)
        : action === 'resume'
          ? rollout.resume(now, reason)
          : action === 'promote'
            ? rollout.promote(now, reason)
            : rollout.abort(now, reason);
    if (transition === undefined) {
      throw new RolloutConflictError(`cannot ${action} the rollout of '${pool}': it is ${rollout.state}`);
    }
    this.apply(run, transition, actor, corrId);
    return this.answer(run);
  }

  /** Forgets `pool`'s rollout, aborting it first when live. @throws UnknownRolloutError */
  remove(pool: string, actor: string, corrId: string): { pool: string; removed: true } {
    const run = this.runOf(pool);
    const transition = run.rollout.abort(this.clock.now(), `deleted by ${actor}`);
    if (transition !== undefined) this.apply(run, transition, actor, corrId);
    this.stop(run);
    this.runs.delete(pool);
    return { pool, removed: true };
  }

  onModuleDestroy(): void {
    for (const run of this.runs.values()) this.stop(run);
  }

  private runOf(pool: string): Run {
    const run = this.runs.get(pool);
    if (run === undefined) throw new UnknownRolloutError(pool);
    return run;
  }

  /** Acts on a transition: the split, the pool on promotion, timers, metrics and the event. */
  private apply(run: Run, transition: RolloutTransition, actor: string, corrId: string | null): void {
    if (!run.rollout.live) {
      this.live.delete(run.name);
      this.stop(run);
      if (transition.to === 'promoted') this.promoteMembers(run, actor, corrId);
    } else {
      this.arm(run);
    }
    this.publish(run, transition, actor, corrId);
  }

  /** The pool becomes the canary set (backends that were already stable keep their state). */
  private promoteMembers(run: Run, actor: string, corrId: string | null): void {
    const before = this.pools.get(run.name);
    const beforeDefinition =
      before === undefined
        ? null
        : { algo: before.algo, backends: before.backends.map((b) => ({ url: b.url, weight: b.weight })) };
    const pool = this.pools.define(
      run.name,
      run.canaryUrls.map((url) => ({ url })),
    );
    this.events.emit({
      type: 'pool.changed',
      corrId: corrId ?? undefined,
      data: {
        pool: run.name,
        kind: before === undefined ? 'created' : 'updated',
        before: beforeDefinition,
        after: { algo: pool.algo, backends: pool.backends.map((b) => ({ url: b.url, weight: b.weight })) },
        actor,
      },
    });
  }

  private publish(run: Run, transition: RolloutTransition, actor: string, corrId: string | null): void {
    this.metrics.percent(run.name, transition.toPercent);
    this.metrics.transition(run.name, transition.kind === 'advanced' ? 'advanced' : transition.to);
    this.logger.log({ event: 'rollout_step', pool: run.name, ...transition, actor });
    this.events.emit({
      type: 'rollout.step',
      corrId: corrId ?? undefined,
      data: { pool: run.name, ...transition, actor },
    });
  }

  /** Schedules the next decision at the interval's end while running. */
  private arm(run: Run): void {
    if (run.timer !== undefined) clearTimeout(run.timer);
    run.timer = undefined;
    if (run.rollout.state !== 'running') return;
    const delay = Math.max(0, run.rollout.intervalEnd - this.clock.now());
    run.timer = setTimeout(() => this.decide(run), delay);
    run.timer.unref();
  }

  private decide(run: Run): void {
    run.timer = undefined;
    try {
      const transition = run.rollout.tick(this.clock.now());
      if (transition !== undefined) this.apply(run, transition, GATEWAY_ACTOR, null);
      else this.arm(run);
    } catch (error) {
      this.logger.error({ event: 'rollout_decision_failed', pool: run.name, err: error });
      this.arm(run);
    }
  }

  private stop(run: Run): void {
    if (run.timer !== undefined) clearTimeout(run.timer);
    run.timer = undefined;
  }

  private answer(run: Run): RolloutAnswer {
    return {
      pool: run.name,
      stableUrls: run.stableUrls,
      canaryUrls: run.canaryUrls,
      ...run.rollout.view(this.clock.now()),
    };
  }
}
