import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { checkBackendTarget, systemResolve, TargetRefusedError, type TargetRules } from '../admin/backend-target';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { SideWindow } from '../rollouts/rollout';
import { isFinal, parseCounts, parseRecord, type RolloutRecord } from '../rollouts/rollout-record';
import { RolloutsService, type JudgedWindows, type RolloutCoordinator } from '../rollouts/rollouts.service';
import { ClusterChannel } from './cluster-channel';
import { CLUSTER_KEYS, ROLLOUT_LEASE_INTERVALS, ROLLOUT_LEASE_MIN_MS } from './cluster.constants';
import { ClusterMetrics } from './cluster-metrics';
import { clusterScripts, type ClusterScripts } from './cluster-scripts';
import { KeyedQueue } from './keyed-queue';

/** A rollout change on the channel and in the hash: its version, origin, run, and the record (`null`: deleted). */
interface RolloutMessage {
  readonly pool: string;
  readonly v: number;
  readonly origin: string;
  readonly at: string;
  readonly run: string;
  readonly record: RolloutRecord | null;
}

/** One instance's counts of a pool's current window (hash `shieldx:rollouts:windows`). */
interface WindowShare {
  readonly run: string;
  readonly window: number;
  readonly stable: ReturnType<SideWindow['counts']>;
  readonly canary: ReturnType<SideWindow['counts']>;
}

/** Renews the decider's lease when this instance still holds it; 1 = renewed. */
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/** Shortest and longest period of the counts' flush and the decider's checks, ms. */
const TICK_MIN_MS = 50;
const TICK_MAX_MS = 1000;
/** Flushes per analysis interval: the decision sees other instances' counts at most this share of it late. */
const TICKS_PER_INTERVAL = 5;

function parseMessage(text: string, pool?: string): RolloutMessage {
  const value = JSON.parse(text) as Record<string, unknown>;
  const name = value['pool'] ?? pool;
  const { v, origin, at, run, record } = value;
  if (typeof name !== 'string' || name.length === 0 || name.length > 128) throw new Error('bad pool');
  if (pool !== undefined && name !== pool) throw new Error(`record of '${String(name)}' stored as '${pool}'`);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new Error('bad version');
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > 256) throw new Error('bad origin');
  if (typeof run !== 'string' || run.length === 0 || run.length > 128) throw new Error('bad run');
  const parsed = record === null ? null : parseRecord(record, name);
  if (parsed !== null && parsed.run !== run) throw new Error('run and record disagree');
  return { pool: name, v, origin, at: typeof at === 'string' ? at : '', run, record: parsed };
}

/**
 * Rollouts across instances (docs/rollouts.md#several-instances). Every change made on an instance (a start, an
 * admin's action, a decision) is numbered with the shared counter `shieldx:rollouts:version`, kept as the pool's last
 * state in the hash `shieldx:rollouts` (written only when newer, atomically) and announced on
 * `shieldx:rollouts:changes`; every instance applies it, so all split the same way. A final state always wins over a
 * live one of the same rollout, whatever the versions (an abort or a rollback is never undone by a concurrent
 * decision). Each instance writes its counts of every live rollout's current window to `shieldx:rollouts:windows`
 * several times per interval; one instance, the holder of the lease `shieldx:rollouts:decider` (renewed while it
 * runs, taken over by another when it stops; never an instance with ORCH_ROLLOUT_DECIDER=0), judges each interval
 * from every instance's counts summed, and checks them for a certain breach at each flush. The hash is read at start-up, before the configured rollouts start, and on
 * every resync, so an instance that restarted or missed messages carries on with the shared state.
 */
@Injectable()
export class RolloutSyncService implements OnModuleInit, OnModuleDestroy, RolloutCoordinator {
  readonly local = false;
  private readonly logger = new Logger('cluster');
  private readonly redis: Redis;
  private scripts!: ClusterScripts;
  private readonly leaseMs: number;
  /** False: this instance never takes the decider's lease (ORCH_ROLLOUT_DECIDER=0). */
  private readonly mayDecide: boolean;
  /** Version applied (or published) per pool. */
  private readonly applied = new Map<string, number>();
  /** Local changes not yet published, by pool. */
  private readonly pending = new Map<string, RolloutRecord | { deleted: string }>();
  /** The run last known per pool (a deletion names it). */
  private readonly lastRun = new Map<string, string>();
  private publishing = false;
  private highest = 0;
  /** Until when this instance holds the decider's lease (its clock, with a margin). */
  private leaseUntil = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private readonly rules: TargetRules;
  /** Per-pool chain of applies, so target checks that wait on DNS cannot reorder them. */
  private readonly applying = new KeyedQueue();
  /** Runs whose backends passed this instance's target checks. */
  private readonly checkedRuns = new Set<string>();

  constructor(
    private readonly channel: ClusterChannel,
    private readonly rollouts: RolloutsService,
    private readonly metrics: ClusterMetrics,
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
  ) {
    this.redis = channel.redis;
    this.leaseMs = Math.max(ROLLOUT_LEASE_MIN_MS, ROLLOUT_LEASE_INTERVALS * config.cluster.resyncEveryMs);
    this.mayDecide = config.cluster.rolloutDecider;
    this.rules = { allowPrivate: config.admin.allowPrivate, allowLoopback: config.listen.insecure };
  }

  /** Takes over keeping and deciding, and reads the shared state before the configured rollouts start. */
  async onModuleInit(): Promise<void> {
    this.scripts = clusterScripts(this.redis);
    this.rollouts.coordinate(this);
    this.channel.subscribe(CLUSTER_KEYS.rolloutsChannel, (message) => this.onMessage(message));
    this.channel.onResync((full) => this.resync(full));
    try {
      await this.readAll();
    } catch (error) {
      this.channel.problem('resync', error, 'the shared rollouts could not be read at start-up; read on reconnect');
    }
    this.schedule();
  }

  onModuleDestroy(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** True while this instance holds the decider's lease. */
  deciding(): boolean {
    return Date.now() < this.leaseUntil;
  }

  /** Every instance's counts of `record`'s current window, summed (this instance's own as they are now). */
  async windows(record: RolloutRecord): Promise<JudgedWindows | undefined> {
    await this.flush();
    const all = await this.redis.hgetall(CLUSTER_KEYS.rolloutWindows);
    const stable = new SideWindow();
    const canary = new SideWindow();
    const prefix = `${record.pool} `;
    const stale: string[] = [];
    for (const [field, text] of Object.entries(all)) {
      if (!field.startsWith(prefix)) continue;
      try {
        const share = JSON.parse(text) as WindowShare;
        if (share.run !== record.run) stale.push(field);
        if (share.run !== record.run || share.window !== record.snapshot.window) continue;
        stable.add(parseCounts(share.stable));
        canary.add(parseCounts(share.canary));
      } catch (error) {
        stale.push(field);
        this.channel.problem('message', error, 'deleted malformed rollout counts in Redis', { field });
      }
    }
    // Counts of an earlier rollout of the pool (instances long gone included) are of no use any more.
    if (stale.length > 0) await this.redis.hdel(CLUSTER_KEYS.rolloutWindows, ...stale);
    return { stable, canary };
  }

  /** A rollout changed here: publish it (a deletion as `null`). */
  changed(pool: string, record: RolloutRecord | null): void {
    // This instance's own rollouts passed its admin API's checks.
    if (record !== null) this.checkedRuns.add(record.run);
    if (record === null) {
      const known = this.pending.get(pool);
      const run = known === undefined ? undefined : 'deleted' in known ? known.deleted : known.run;
      this.pending.set(pool, { deleted: run ?? this.lastRun.get(pool) ?? '-' });
    } else {
      this.pending.set(pool, record);
      this.lastRun.set(pool, record.run);
    }
    void this.publish();
  }

  private async publish(): Promise<void> {
    if (this.publishing) return;
    this.publishing = true;
    try {
      while (this.pending.size > 0) {
        const [pool, entry] = this.pending.entries().next().value as [string, RolloutRecord | { deleted: string }];
        await this.publishOne(pool, entry);
        if (this.pending.get(pool) === entry) this.pending.delete(pool);
      }
    } catch (error) {
      this.channel.problem('publish', error, 'a rollout change could not be shared; it is when Redis is back');
    } finally {
      this.publishing = false;
    }
  }

  private async publishOne(pool: string, entry: RolloutRecord | { deleted: string }): Promise<void> {
    const record = 'deleted' in entry ? null : entry;
    const run = 'deleted' in entry ? entry.deleted : entry.run;
    // A final state that loses to a newer live one of the same run is written again with a newer version.
    for (let attempt = 0; attempt < 3; attempt++) {
      const v = await this.redis.incr(CLUSTER_KEYS.rolloutsVersion);
      const message: RolloutMessage = {
        pool,
        v,
        origin: this.channel.instanceId,
        at: new Date().toISOString(),
        run,
        record,
      };
      const text = JSON.stringify(message);
      const written = (await this.scripts.setIfNewer(CLUSTER_KEYS.rollouts, pool, v, text)) === 1;
      this.saw(v);
      if (v > (this.applied.get(pool) ?? 0)) this.applied.set(pool, v);
      if (written) {
        await this.redis.publish(CLUSTER_KEYS.rolloutsChannel, text);
        this.metrics.sync('rollout', 'published');
        return;
      }
      const stored = await this.redis.hget(CLUSTER_KEYS.rollouts, pool);
      const current = stored === null ? null : parseMessage(stored, pool);
      const beatsIt =
        record !== null &&
        isFinal(record.snapshot.state) &&
        current?.record != null &&
        current.run === run &&
        !isFinal(current.record.snapshot.state);
      if (!beatsIt) {
        this.channel.requestResync();
        return;
      }
    }
  }

  private onMessage(text: string): void {
    let message: RolloutMessage;
    try {
      message = parseMessage(text);
    } catch (error) {
      this.channel.problem('message', error, 'ignored a malformed rollout message');
      return;
    }
    this.saw(message.v);
    if (message.origin === this.channel.instanceId) return;
    void this.apply(message);
  }

  /**
   * Applies `message` after every earlier apply of the same pool. A rollout this instance does not know yet is applied
   * only when its backends pass this instance's own target checks (the admin API's SSRF rules), as pool changes are.
   */
  private apply(message: RolloutMessage): Promise<void> {
    return this.applying.run(
      message.pool,
      async () => {
        if (await this.checked(message)) this.applyNow(message);
      },
      (error) =>
        this.channel.problem('apply', error, 'a rollout change from another instance could not be applied', {
          pool: message.pool,
          version: message.v,
        }),
    );
  }

  /** True when the message's backends are allowed here (checked once per run). */
  private async checked(message: RolloutMessage): Promise<boolean> {
    const record = message.record;
    if (record === null || this.checkedRuns.has(record.run)) return true;
    try {
      const urls = [...record.stableUrls, ...record.canaryUrls];
      await Promise.all(urls.map((url) => checkBackendTarget(url, this.rules, systemResolve)));
    } catch (error) {
      if (!(error instanceof TargetRefusedError)) throw error;
      this.channel.problem('apply', error, 'refused a rollout from another instance: a backend is not allowed here', {
        pool: message.pool,
        origin: message.origin,
      });
      return false;
    }
    this.checkedRuns.add(record.run);
    return true;
  }

  /** Applies a newer change (or a final state over a live one of the same run). */
  private applyNow(message: RolloutMessage): void {
    const { pool, v, record } = message;
    const local = this.rollouts.recordOf(pool);
    const finalOverLive =
      record !== null &&
      local !== undefined &&
      local.run === record.run &&
      isFinal(record.snapshot.state) &&
      !isFinal(local.snapshot.state);
    if (v <= (this.applied.get(pool) ?? 0) && !finalOverLive) return;
    if (this.pending.has(pool) && !finalOverLive) return;
    this.applied.set(pool, Math.max(v, this.applied.get(pool) ?? 0));
    if (record === null) this.rollouts.forget(pool, message.run);
    else if (!this.rollouts.restore(record)) return;
    if (record !== null) this.lastRun.set(pool, record.run);
    this.metrics.sync('rollout', 'applied');
    this.logger.log({
      event: 'cluster_rollout_applied',
      pool,
      version: v,
      origin: message.origin,
      state: record?.snapshot.state ?? 'deleted',
    });
  }

  /** Reads the whole hash and applies what is newer. */
  private async readAll(): Promise<void> {
    const all = await this.redis.hgetall(CLUSTER_KEYS.rollouts);
    for (const [pool, text] of Object.entries(all)) {
      let message: RolloutMessage;
      try {
        message = parseMessage(text, pool);
      } catch (error) {
        this.channel.problem('message', error, 'ignored a malformed rollout record in Redis', { pool });
        continue;
      }
      this.saw(message.v);
      await this.apply(message);
    }
  }

  /**
   * Full: publish what is pending, then read the whole hash. Tick: only when the counter moved past what was seen
   * (a missed message), or went back (Redis lost its data: the counter is raised and this instance's rollouts are
   * written back).
   */
  private async resync(full: boolean): Promise<void> {
    const counter = Number((await this.redis.get(CLUSTER_KEYS.rolloutsVersion)) ?? 0);
    if (counter < this.highest) {
      await this.scripts.raiseCounter(CLUSTER_KEYS.rolloutsVersion, this.highest);
      for (const record of this.rollouts.records()) this.pending.set(record.pool, record);
    }
    if (this.pending.size > 0) await this.publish();
    if (full || counter > this.highest) await this.readAll();
    this.saw(counter);
  }

  /** Runs {@link tick} every few hundredths of the shortest live interval while rollouts are live. */
  private schedule(): void {
    if (this.closed) return;
    const intervals = this.rollouts
      .records()
      .filter((record) => !isFinal(record.snapshot.state))
      .map((record) => record.snapshot.spec.intervalMs);
    const every =
      intervals.length === 0
        ? this.leaseMs / 3
        : Math.min(
            this.leaseMs / 3,
            Math.max(TICK_MIN_MS, Math.min(TICK_MAX_MS, Math.min(...intervals) / TICKS_PER_INTERVAL)),
          );
    this.timer = setTimeout(() => void this.tick().finally(() => this.schedule()), every);
    this.timer.unref();
  }

  /** Flushes this instance's counts; takes or renews the decider's lease; the decider checks for certain breaches. */
  private async tick(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    const live = this.rollouts.records().filter((record) => !isFinal(record.snapshot.state));
    try {
      if (live.length === 0) return;
      await this.flush();
      if (!this.mayDecide) return;
      const was = this.deciding();
      await this.lease();
      if (!this.deciding()) return;
      if (!was) {
        this.logger.log({ event: 'rollout_decider', instance: this.channel.instanceId, msg: 'deciding rollouts now' });
        this.rollouts.rearm();
      }
      for (const record of live) {
        if (record.snapshot.state !== 'running') continue;
        const windows = await this.windows(record);
        if (windows !== undefined) this.rollouts.checkBreach(record.pool, record.run, windows);
      }
    } catch (error) {
      this.channel.problem('publish', error, 'rollout counts or the decider lease could not be shared');
    }
  }

  /** Writes this instance's counts of every live rollout's current window. */
  private async flush(): Promise<void> {
    const fields: string[] = [];
    for (const record of this.rollouts.records()) {
      const window = this.rollouts.windowOf(record.pool);
      if (window === undefined) continue;
      const share: WindowShare = {
        run: window.run,
        window: window.window,
        stable: window.stable.counts(),
        canary: window.canary.counts(),
      };
      fields.push(`${record.pool} ${this.channel.instanceId}`, JSON.stringify(share));
    }
    if (fields.length > 0) await this.redis.hset(CLUSTER_KEYS.rolloutWindows, ...fields);
  }

  /** Takes the lease when free, renews it when held. */
  private async lease(): Promise<void> {
    const me = this.channel.instanceId;
    const started = Date.now();
    const renewed = (await this.redis.eval(RENEW_LUA, 1, CLUSTER_KEYS.rolloutDecider, me, this.leaseMs)) === 1;
    const taken = renewed || (await this.redis.set(CLUSTER_KEYS.rolloutDecider, me, 'PX', this.leaseMs, 'NX')) === 'OK';
    // The lease counts from before the command, less a margin, so two instances never both believe they hold it.
    this.leaseUntil = taken ? started + this.leaseMs - Math.min(this.leaseMs / 3, 500) : 0;
  }

  private saw(version: number): void {
    if (version > this.highest) this.highest = version;
  }
}
