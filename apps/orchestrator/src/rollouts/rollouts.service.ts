import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type Backend, hashString64, type Pool } from '@shieldx/lb';
import { randomUUID } from 'node:crypto';
import { WALL_CLOCK } from '../clock/clock';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { RolloutConflictError, UnknownRolloutError } from '../errors/errors';
import { SecurityEvents } from '../events/security-events';
import { PoolsService } from '../pools/pools.service';
import {
  Rollout,
  SAFE_PREVIEW_METHODS,
  type RolloutSide,
  type RolloutSpec,
  type RolloutTransition,
  type RolloutView,
  type SideWindow,
} from './rollout';
import { RolloutMetrics } from './rollout-metrics';
import { isFinal, rolloutStatePath, type RolloutRecord } from './rollout-record';
import { RolloutStateFile } from './rollout-store';

/** Seed of the key hash that places a sticky key on a side, apart from the balancers' own key hashes. */
const SIDE_SEED = 0x726f6c6c;
/** 2^-32: turns the high 32 bits of a key hash into a uniform share in [0, 1). */
const UNIT_32 = 1 / 4294967296;
/** Wait before a decision that failed (the shared counts could not be read) is tried again, ms. */
const DECISION_RETRY_MS = 1000;
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

/** Summed windows of one interval, as the deciding instance judges them. */
export interface JudgedWindows {
  readonly stable: SideWindow;
  readonly canary: SideWindow;
}

/**
 * Where rollouts are kept and who decides, beyond this process: by default a state file beside the ledger and this
 * instance alone; with Redis, the cluster (every instance applies the same state, one decides from all counts).
 */
export interface RolloutCoordinator {
  /** True when this instance's own counts decide (no other instance): instant rollbacks happen in {@link RolloutsService.record}. */
  readonly local: boolean;
  /** True while this instance makes the decisions. */
  deciding(): boolean;
  /** The windows to judge `record`'s interval with; undefined: this instance's own. */
  windows(record: RolloutRecord): Promise<JudgedWindows | undefined>;
  /** A rollout changed here (`record`), or was removed (`null`): keep it and share it. */
  changed(pool: string, record: RolloutRecord | null): void;
}

/** The preview of a rollout as the traffic mirror sees it: where copies go, which methods, where outcomes go. */
export interface PreviewTarget {
  /** The canary set (a detached pool). */
  readonly canary: Pool;
  /** Methods that are copied (upper case). */
  readonly methods: ReadonlySet<string>;
  /** The outcomes of one copied request: the real answer's and the copy's (failed: 5xx or none; ms to headers). */
  compared(primaryFailed: boolean, primaryMs: number, copyFailed: boolean, copyMs: number | null): void;
}

/** One pool's rollout with its canary pool and split state. */
interface Run {
  readonly name: string;
  readonly id: string;
  rollout: Rollout;
  readonly stableUrls: readonly string[];
  readonly canaryUrls: readonly string[];
  readonly canary: Pool;
  readonly canaryBackends: ReadonlySet<Backend>;
  /** Running share of picks owed to the canary (percent points), for the exact weighted split. */
  credit: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  preview: PreviewTarget | undefined;
}

/**
 * Progressive delivery of pools. The pool keeps its name and is the stable set; the rollout owns a second, detached
 * {@link Pool} of the canary's backends. With a preview, the canary first gets only copies of the pool's safe
 * requests (through the traffic mirror) for one interval, judged against stable's answers to the same requests.
 * {@link route} then sends the step's share of picks to the canary (an exact weighted split, or by key hash when
 * sticky) and the rest to the pool; the proxy reports each attempt's outcome ({@link record}); a timer per rollout
 * runs the interval analysis. On promotion the pool is redefined as the canary set; on rollback or abort the pool
 * stays as it is. Every transition is a `rollout.step` security event, and is kept by the {@link RolloutCoordinator}:
 * a state file without Redis (restored at start-up), the shared state with it.
 */
@Injectable()
export class RolloutsService implements OnModuleInit, OnModuleDestroy {
  private readonly runs = new Map<string, Run>();
  /** The runs whose traffic is split now (running or paused): the only ones {@link route} looks at. */
  private readonly live = new Map<string, Run>();
  /** The runs in preview, by pool: what the traffic mirror copies. */
  private readonly previews = new Map<string, PreviewTarget>();
  private readonly previewListeners: (() => void)[] = [];
  private readonly logger = new Logger('rollouts');
  private readonly keyHash = { hi: 0, lo: 0 };
  private readonly stateFile: RolloutStateFile | undefined;
  private coordinator: RolloutCoordinator;

  constructor(
    private readonly pools: PoolsService,
    private readonly events: SecurityEvents,
    private readonly metrics: RolloutMetrics,
    @Inject(WALL_CLOCK) private readonly clock: { now(): number },
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
  ) {
    // With Redis the shared state keeps rollouts; without it, a file beside the ledger.
    this.stateFile =
      config.redis.url === undefined ? new RolloutStateFile(rolloutStatePath(config.ledger.path)) : undefined;
    this.coordinator = {
      local: true,
      deciding: () => true,
      windows: () => Promise.resolve(undefined),
      changed: () => this.save(),
    };
  }

  /** Carries on the rollouts of the state file (without Redis). */
  onModuleInit(): void {
    if (this.stateFile === undefined) return;
    let records: RolloutRecord[];
    try {
      records = this.stateFile.load();
    } catch (error) {
      // Without a readable state nothing is split: no canary gets traffic it may have lost before.
      this.logger.error({
        event: 'rollouts_state_unreadable',
        path: this.stateFile.path,
        error: (error as Error).message,
        msg: 'starting without the rollouts of the state file; no pool is split',
      });
      return;
    }
    for (const record of records) this.restore(record, true);
    if (records.length > 0) this.save();
  }

  /** Hands keeping and deciding to the cluster (called once, before the application starts). */
  coordinate(coordinator: RolloutCoordinator): void {
    this.coordinator = coordinator;
  }

  /**
   * The pool one pick should use: the canary's for the step's share of picks, else `pool` itself. Only configured
   * pools under a live rollout are split (none in preview); no allocation per call.
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
   * Ignored unless the pool is under a live rollout; in preview the copies' pairs count instead.
   */
  record(pool: Pool, backend: Backend, failed: boolean, ms: number | null): void {
    if (this.live.size === 0) return;
    const run = this.live.get(pool.name);
    if (run === undefined || run.preview !== undefined) return;
    const side: RolloutSide = run.canaryBackends.has(backend) ? 'canary' : 'stable';
    this.metrics.request(run.name, side, failed ? 'error' : 'ok');
    if (!run.rollout.live) return;
    (side === 'canary' ? run.rollout.canary : run.rollout.stable).record(failed, ms);
    if (side !== 'canary' || !failed || !this.coordinator.local) return;
    const transition = run.rollout.breach(run.rollout.canary, this.clock.now());
    if (transition !== undefined) this.apply(run, transition, GATEWAY_ACTOR, null);
  }

  /** The preview of `pool`'s rollout now, if it is in preview (the traffic mirror's lookup; no allocation). */
  preview(pool: string): PreviewTarget | undefined {
    return this.previews.size === 0 ? undefined : this.previews.get(pool);
  }

  /** True when some rollout is in preview. */
  get previewing(): boolean {
    return this.previews.size > 0;
  }

  /** Calls `listener` whenever a preview starts or ends. */
  onPreviewChange(listener: () => void): void {
    this.previewListeners.push(listener);
  }

  /** Starts a rollout of `start.pool` (which must already be the stable set). @throws RolloutConflictError */
  start(start: RolloutStart, actor: string, corrId: string): RolloutAnswer {
    const existing = this.runs.get(start.pool);
    if (existing !== undefined && existing.rollout.live) {
      throw new RolloutConflictError(`pool '${start.pool}' already has a ${existing.rollout.state} rollout`);
    }
    if (existing !== undefined) this.stop(existing);
    const run = this.newRun(
      start.pool,
      randomUUID(),
      start.stable,
      start.canary,
      new Rollout(start.spec, this.clock.now()),
    );
    this.runs.set(start.pool, run);
    this.track(run);
    this.publish(run, run.rollout.history[0], actor, corrId);
    this.coordinator.changed(run.name, this.recordOfRun(run));
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

  /** The state and canary set of `pool`'s rollout, live or final; undefined without one. */
  stateOf(pool: string): { readonly state: string; readonly canaryUrls: readonly string[] } | undefined {
    const run = this.runs.get(pool);
    return run === undefined ? undefined : { state: run.rollout.state, canaryUrls: run.canaryUrls };
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
    this.coordinator.changed(pool, null);
    return { pool, removed: true };
  }

  /** The records of every rollout (to share them, or write them back after Redis lost its data). */
  records(): RolloutRecord[] {
    return [...this.runs.values()].map((run) => this.recordOfRun(run));
  }

  /** The record of `pool`'s rollout, undefined without one. */
  recordOf(pool: string): RolloutRecord | undefined {
    const run = this.runs.get(pool);
    return run === undefined ? undefined : this.recordOfRun(run);
  }

  /** This instance's counts of `pool`'s current window (its share, for the deciding instance). */
  windowOf(pool: string): { run: string; window: number; stable: SideWindow; canary: SideWindow } | undefined {
    const run = this.runs.get(pool);
    if (run === undefined || !run.rollout.live) return undefined;
    return { run: run.id, window: run.rollout.window, stable: run.rollout.stable, canary: run.rollout.canary };
  }

  /**
   * Applies the state of a rollout decided or started elsewhere (another instance, or this one before a restart).
   * A final state always wins over a live one of the same run; a live state never reopens a final one.
   * @param restart true when carrying on after this process restarted: live rollouts get a fresh interval and a
   *   `restored` transition
   * @returns whether anything changed
   */
  restore(record: RolloutRecord, restart = false): boolean {
    const now = this.clock.now();
    const current = this.runs.get(record.pool);
    const incoming = record.snapshot;
    if (current !== undefined && current.id === record.run) {
      if (!current.rollout.live && !isFinal(incoming.state)) return false;
      const wasLive = current.rollout.live;
      const windowKept = current.rollout.window === incoming.window;
      const rollout = new Rollout(incoming.spec, now, incoming);
      if (windowKept) {
        rollout.stable.add(current.rollout.stable.counts());
        rollout.canary.add(current.rollout.canary.counts());
      }
      current.rollout = rollout;
      this.track(current);
      this.metrics.percent(current.name, rollout.percent);
      if (wasLive && rollout.state === 'promoted') this.promoteMembers(current, GATEWAY_ACTOR, null);
      if (!rollout.live) this.stop(current);
      else this.arm(current);
      return true;
    }
    if (current !== undefined) this.stop(current);
    const run = this.newRun(
      record.pool,
      record.run,
      record.stableUrls,
      record.canaryUrls,
      new Rollout(incoming.spec, now, incoming),
    );
    this.runs.set(record.pool, run);
    // The replaced run (another rollout of the pool) leaves the split and the preview.
    if (current !== undefined) this.track(current);
    if (run.rollout.live) {
      this.ensureMembers(run, run.stableUrls, 'the rollout carries on with its stable set');
      if (restart) {
        const transition = run.rollout.restored(now, 'carried on after a restart, with a fresh interval');
        if (transition !== undefined) this.publish(run, transition, GATEWAY_ACTOR, null);
      }
    } else if (run.rollout.state === 'promoted' && this.pools.hasExactly(run.name, run.stableUrls)) {
      // The pool came back as the old version (the configuration still names it): the promotion stands.
      this.ensureMembers(run, run.canaryUrls, 'the promoted rollout stands');
    }
    this.track(run);
    this.metrics.percent(run.name, run.rollout.percent);
    this.arm(run);
    this.logger.log({
      event: 'rollout_restored',
      pool: run.name,
      state: run.rollout.state,
      phase: run.rollout.phase,
      restart,
    });
    return true;
  }

  /** Forgets `pool`'s rollout without a transition (it was deleted elsewhere). */
  forget(pool: string, run: string): void {
    const current = this.runs.get(pool);
    if (current === undefined || current.id !== run) return;
    if (current.rollout.live) {
      const transition = current.rollout.abort(this.clock.now(), 'deleted on another instance');
      if (transition !== undefined) this.metrics.percent(pool, 0);
    }
    this.stop(current);
    this.runs.delete(pool);
    this.track(current);
  }

  /**
   * Judges the live rollouts' windows now (the deciding instance, with every instance's counts summed): rolls back
   * at once on a certain breach.
   */
  checkBreach(pool: string, run: string, windows: JudgedWindows): void {
    const current = this.live.get(pool);
    if (current === undefined || current.id !== run) return;
    const transition = current.rollout.breach(windows.canary, this.clock.now(), windows.stable);
    if (transition !== undefined) this.apply(current, transition, GATEWAY_ACTOR, null);
  }

  /** Re-arms every rollout's decision timer (this instance just became the deciding one). */
  rearm(): void {
    for (const run of this.live.values()) this.arm(run);
  }

  onModuleDestroy(): void {
    for (const run of this.runs.values()) this.stop(run);
  }

  private newRun(
    name: string,
    id: string,
    stableUrls: readonly string[],
    canaryUrls: readonly string[],
    rollout: Rollout,
  ): Run {
    const canary = this.pools.detached(name, canaryUrls);
    return {
      name,
      id,
      rollout,
      stableUrls,
      canaryUrls,
      canary,
      canaryBackends: new Set(canary.backends),
      credit: 0,
      timer: undefined,
      preview: undefined,
    };
  }

  /** Puts `run` in (or out of) the live and preview maps as its state says. */
  private track(run: Run): void {
    const current = this.runs.get(run.name) === run;
    if (current && run.rollout.live) this.live.set(run.name, run);
    else if (this.live.get(run.name) === run) this.live.delete(run.name);
    const previewing = current && run.rollout.previewing;
    const before = this.previews.size;
    if (previewing) {
      run.preview ??= this.previewTarget(run);
      this.previews.set(run.name, run.preview);
    } else {
      if (run.preview !== undefined && this.previews.get(run.name) === run.preview) this.previews.delete(run.name);
      run.preview = undefined;
    }
    if ((before === 0) !== (this.previews.size === 0)) {
      for (const listener of this.previewListeners) listener();
    }
  }

  private previewTarget(run: Run): PreviewTarget {
    const methods = new Set(run.rollout.spec.previewMethods ?? SAFE_PREVIEW_METHODS);
    return {
      canary: run.canary,
      methods,
      compared: (primaryFailed, primaryMs, copyFailed, copyMs) => {
        const rollout = run.rollout;
        if (run.preview === undefined || !rollout.previewing) return;
        this.metrics.request(run.name, 'preview', copyFailed ? 'error' : 'ok');
        rollout.stable.record(primaryFailed, primaryMs);
        rollout.canary.record(copyFailed, copyMs);
        if (!copyFailed || !this.coordinator.local) return;
        const transition = rollout.breach(rollout.canary, this.clock.now());
        if (transition !== undefined) this.apply(run, transition, GATEWAY_ACTOR, null);
      },
    };
  }

  private recordOfRun(run: Run): RolloutRecord {
    return {
      pool: run.name,
      run: run.id,
      stableUrls: run.stableUrls,
      canaryUrls: run.canaryUrls,
      snapshot: run.rollout.snapshot(),
    };
  }

  private runOf(pool: string): Run {
    const run = this.runs.get(pool);
    if (run === undefined) throw new UnknownRolloutError(pool);
    return run;
  }

  /** Acts on a transition: the split, the pool on promotion, timers, metrics, the event, and keeping it. */
  private apply(run: Run, transition: RolloutTransition, actor: string, corrId: string | null): void {
    this.track(run);
    if (!run.rollout.live) {
      this.stop(run);
      if (transition.to === 'promoted') this.promoteMembers(run, actor, corrId);
    } else {
      this.arm(run);
    }
    this.publish(run, transition, actor, corrId);
    this.coordinator.changed(run.name, this.recordOfRun(run));
  }

  /** The pool becomes the canary set (backends that were already stable keep their state). */
  private promoteMembers(run: Run, actor: string, corrId: string | null): void {
    this.ensureMembers(run, run.canaryUrls, 'promoted', actor, corrId);
  }

  /** Makes the pool exactly `urls` unless it is (a `pool.changed` event when it changes). */
  private ensureMembers(
    run: Run,
    urls: readonly string[],
    reason: string,
    actor = GATEWAY_ACTOR,
    corrId: string | null = null,
  ): void {
    if (this.pools.hasExactly(run.name, urls)) return;
    const before = this.pools.get(run.name);
    const beforeDefinition =
      before === undefined
        ? null
        : { algo: before.algo, backends: before.backends.map((b) => ({ url: b.url, weight: b.weight })) };
    const pool = this.pools.define(
      run.name,
      urls.map((url) => ({ url })),
    );
    this.logger.log({ event: 'rollout_pool_set', pool: run.name, urls, reason });
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
    this.metrics.transition(
      run.name,
      transition.kind === 'advanced' || transition.kind === 'previewed' ? transition.kind : transition.to,
    );
    this.logger.log({ event: 'rollout_step', pool: run.name, ...transition, actor });
    this.events.emit({
      type: 'rollout.step',
      corrId: corrId ?? undefined,
      data: { pool: run.name, ...transition, actor },
    });
  }

  /**
   * Schedules the next decision at the interval's end while running and this instance decides (at least `atLeastMs`
   * from now: a retry after a failed decision).
   */
  private arm(run: Run, atLeastMs = 0): void {
    if (run.timer !== undefined) clearTimeout(run.timer);
    run.timer = undefined;
    if (run.rollout.state !== 'running' || this.runs.get(run.name) !== run || !this.coordinator.deciding()) return;
    const delay = Math.max(atLeastMs, run.rollout.intervalEnd - this.clock.now());
    run.timer = setTimeout(() => void this.decide(run), delay);
    run.timer.unref();
  }

  private async decide(run: Run): Promise<void> {
    run.timer = undefined;
    try {
      if (!this.coordinator.deciding()) return;
      const rollout = run.rollout;
      const window = rollout.window;
      const windows = await this.coordinator.windows(this.recordOfRun(run));
      // A state applied meanwhile (another instance's decision, an admin's action) wins.
      if (run.rollout !== rollout || rollout.window !== window || this.runs.get(run.name) !== run) return this.arm(run);
      const endBefore = rollout.intervalEnd;
      const transition = rollout.tick(this.clock.now(), windows);
      if (transition !== undefined) return this.apply(run, transition, GATEWAY_ACTOR, null);
      // Too few requests: the window carries over into a new interval, which every instance shows alike.
      if (rollout.intervalEnd !== endBefore) this.coordinator.changed(run.name, this.recordOfRun(run));
      this.arm(run);
    } catch (error) {
      this.logger.error({ event: 'rollout_decision_failed', pool: run.name, err: error });
      this.arm(run, Math.min(run.rollout.spec.intervalMs, DECISION_RETRY_MS));
    }
  }

  private stop(run: Run): void {
    if (run.timer !== undefined) clearTimeout(run.timer);
    run.timer = undefined;
  }

  /** Writes the state file (without Redis); a failure is logged, the rollouts go on in memory. */
  private save(): void {
    if (this.stateFile === undefined) return;
    try {
      this.stateFile.save(this.records());
    } catch (error) {
      this.logger.error({
        event: 'rollouts_state_write_failed',
        path: this.stateFile.path,
        error: (error as Error).message,
        msg: 'the rollouts go on, but a restart would not know their latest state',
      });
    }
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
