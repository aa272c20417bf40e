import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { checkBackendTarget, systemResolve, TargetRefusedError, type TargetRules } from '../admin/backend-target';
import { backendDefinition, PoolAdminService, type PoolEdit } from '../admin/pool-admin.service';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { SecurityEvents } from '../events/security-events';
import { PoolsService } from '../pools/pools.service';
import { ClusterChannel } from './cluster-channel';
import { CLUSTER_KEYS } from './cluster.constants';
import { ClusterMetrics } from './cluster-metrics';
import { clusterScripts, type ClusterScripts } from './cluster-scripts';
import { encodePool, parsePool, type PoolMessage, type PoolRecord, type SyncedPoolDefinition } from './pool-sync.codec';
import { KeyedQueue } from './keyed-queue';

/** What `GET /admin/cluster` says about pools. */
export interface PoolSyncStatus {
  /** Highest shared version this instance knows of. */
  readonly version: number;
  /** Version applied (or published) per pool. */
  readonly applied: Readonly<Record<string, number>>;
  /** Local admin edits not yet published (Redis was unavailable); they are published when it is back. */
  readonly pending: readonly string[];
  /** Changes from other instances this instance refused (a backend its own rules do not allow). */
  readonly refused: readonly { pool: string; version: number; origin: string; reason: string }[];
}

/** The hash value of a message: the same fields without the pool's name (the hash field names it). */
function recordOf(message: PoolMessage): PoolRecord {
  return { v: message.v, origin: message.origin, at: message.at, def: message.def };
}

/**
 * Pool edits made through the admin API, on every instance (docs/scale-out.md). An edit is applied locally by the
 * admin API first (it never waits on Redis), then published here: a version from the shared INCR counter
 * `shieldx:pools:version`, the record written to the hash `shieldx:pools` only if its stored version is older
 * (last writer wins by version, atomically in Redis), and a message on `shieldx:pools:changes`.
 * Every instance applies a change whose version is newer than the one it applied for that pool, so messages may
 * arrive in any order, twice, or be missed (the hash is read again on every (re)connect, and whenever the counter
 * moved past what was seen; `SET_IF_NEWER_LUA` keeps the hash last-writer-wins). A change applied from the channel is
 * recorded as `pool.changed` with `source: 'cluster'` and is never published again; its own version is already
 * applied, so echoes are ignored too.
 *
 * Redis unavailable: the edit stays applied here and pending, and is published (with a new version, so it wins) once
 * Redis answers. Redis restarted empty: the counter is raised above every version known here and the records known
 * here are written back, so versions stay monotonic.
 */
@Injectable()
export class PoolSyncService implements OnModuleInit {
  private readonly logger = new Logger('cluster');
  private readonly redis: Redis;
  private scripts!: ClusterScripts;
  private readonly rules: TargetRules;
  /** Version applied (or published) per pool. */
  private readonly applied = new Map<string, number>();
  /** The latest record known per pool (to write back after Redis lost its data). */
  private readonly records = new Map<string, PoolMessage>();
  /** Local edits not yet published. */
  private readonly pending = new Map<string, { def: SyncedPoolDefinition | null }>();
  /** Pools being published now, with the newest message of another instance that arrived meanwhile. */
  private readonly inFlight = new Map<string, { deferred: PoolMessage | null }>();
  /** Per-pool chain of applies, so checks that wait on DNS cannot reorder them. */
  private readonly applying = new KeyedQueue();
  private readonly refused = new Map<string, { pool: string; version: number; origin: string; reason: string }>();
  private highest = 0;

  constructor(
    private readonly channel: ClusterChannel,
    private readonly pools: PoolsService,
    private readonly events: SecurityEvents,
    private readonly poolAdmin: PoolAdminService,
    private readonly metrics: ClusterMetrics,
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
  ) {
    this.redis = channel.redis;
    this.rules = { allowPrivate: config.admin.allowPrivate, allowLoopback: config.listen.insecure };
  }

  onModuleInit(): void {
    this.scripts = clusterScripts(this.redis);
    // Only edits made through this instance's admin API: changes applied from the channel never reach it.
    this.poolAdmin.onEdit((edit) => this.localChange(edit));
    this.channel.subscribe(CLUSTER_KEYS.poolsChannel, (message) => this.onMessage(message));
    this.channel.onResync((full) => this.resync(full));
  }

  status(): PoolSyncStatus {
    return {
      version: this.highest,
      applied: Object.fromEntries([...this.applied].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      pending: [...this.pending.keys()].sort(),
      refused: [...this.refused.values()],
    };
  }

  /** The admin API changed a pool here: publish it. */
  private localChange(change: PoolEdit): void {
    this.pending.set(change.pool, { def: change.after });
    void this.publish(change.pool);
  }

  private async publish(pool: string): Promise<void> {
    const entry = this.pending.get(pool);
    if (entry === undefined || this.inFlight.has(pool)) return;
    const flight = { deferred: null as PoolMessage | null };
    this.inFlight.set(pool, flight);
    let version: number;
    let written: boolean;
    try {
      version = await this.redis.incr(CLUSTER_KEYS.poolsVersion);
      const message: PoolMessage = {
        pool,
        v: version,
        origin: this.channel.instanceId,
        at: new Date().toISOString(),
        def: entry.def,
      };
      written = (await this.scripts.setIfNewer(CLUSTER_KEYS.pools, pool, version, encodePool(recordOf(message)))) === 1;
      if (written) await this.redis.publish(CLUSTER_KEYS.poolsChannel, encodePool(message));
      if (this.pending.get(pool) === entry) this.pending.delete(pool);
      this.inFlight.delete(pool);
      this.saw(version);
      if (version > (this.applied.get(pool) ?? 0)) {
        this.applied.set(pool, version);
        this.records.set(pool, message);
      }
      this.metrics.sync('pool', 'published');
      this.logger.log({ event: 'cluster_pool_published', pool, version, instance: this.channel.instanceId });
    } catch (error) {
      this.inFlight.delete(pool);
      this.channel.problem('publish', error, 'a pool change could not be shared; it is published when Redis is back', {
        pool,
      });
      return;
    }
    // Another instance's change that arrived while this one was being numbered: it wins if it is newer.
    if (flight.deferred !== null && flight.deferred.v > version) void this.apply(flight.deferred);
    if (!written) this.channel.requestResync();
    if (this.pending.has(pool)) void this.publish(pool);
  }

  private onMessage(text: string): void {
    let message: PoolMessage;
    try {
      message = parsePool(text);
    } catch (error) {
      this.channel.problem('message', error, 'ignored a malformed pool message');
      return;
    }
    this.saw(message.v);
    const flight = this.inFlight.get(message.pool);
    if (flight !== undefined) {
      if (flight.deferred === null || message.v > flight.deferred.v) flight.deferred = message;
      return;
    }
    void this.apply(message);
  }

  /** Applies `message` after every earlier apply of the same pool. */
  private apply(message: PoolMessage): Promise<void> {
    return this.applying.run(
      message.pool,
      () => this.applyNow(message),
      (error) =>
        this.channel.problem('apply', error, 'a pool change from another instance could not be applied', {
          pool: message.pool,
          version: message.v,
        }),
    );
  }

  private async applyNow(message: PoolMessage): Promise<void> {
    const { pool, v, def, origin } = message;
    const isCurrent = () => v > (this.applied.get(pool) ?? 0) && !this.pending.has(pool) && !this.inFlight.has(pool);
    if (!isCurrent()) return;
    try {
      if (def !== null) await this.checkTargets(def);
    } catch (error) {
      if (!(error instanceof TargetRefusedError)) throw error;
      if (!isCurrent()) return;
      this.applied.set(pool, v);
      this.refused.set(pool, { pool, version: v, origin, reason: error.message });
      this.channel.problem(
        'apply',
        error,
        'refused a pool change from another instance: a backend is not allowed here',
        {
          pool,
          version: v,
          origin,
        },
      );
      return;
    }
    if (!isCurrent()) return;
    this.refused.delete(pool);
    const before = this.definition(pool);
    this.applied.set(pool, v);
    this.records.set(pool, message);
    if (def === null) {
      if (before !== null) this.pools.remove(pool);
    } else {
      this.pools.define(pool, def.backends, def.algo);
    }
    this.metrics.sync('pool', 'applied');
    this.metrics.setPoolVersion(this.highest);
    if (def === null && before === null) return;
    const kind = def === null ? 'removed' : before === null ? 'created' : 'updated';
    this.logger.log({ event: 'cluster_pool_applied', pool, kind, version: v, origin });
    this.events.emit({
      type: 'pool.changed',
      data: {
        pool,
        kind,
        before,
        after: def === null ? null : this.definition(pool),
        actor: `cluster:${origin}`,
        source: 'cluster',
        origin,
        version: v,
      },
    });
  }

  /** The same checks the admin API made on the origin instance, with this instance's rules. */
  private async checkTargets(def: SyncedPoolDefinition): Promise<void> {
    await Promise.all(def.backends.map((backend) => checkBackendTarget(backend.url, this.rules, systemResolve)));
  }

  /**
   * Full: publish what is pending, then read the whole hash and apply what is newer. Tick: only when the shared
   * counter moved past the highest version seen (a missed message) or went back (Redis lost its data).
   */
  private async resync(full: boolean): Promise<void> {
    const counter = Number((await this.redis.get(CLUSTER_KEYS.poolsVersion)) ?? 0);
    if (counter < this.highest) await this.restore();
    for (const pool of [...this.pending.keys()]) await this.publish(pool);
    if (!full && counter <= this.highest && this.pending.size === 0) return;
    const all = await this.redis.hgetall(CLUSTER_KEYS.pools);
    for (const [pool, text] of Object.entries(all)) {
      let message: PoolMessage;
      try {
        message = parsePool(text, pool);
      } catch (error) {
        this.channel.problem('message', error, 'ignored a malformed pool record in Redis', { pool });
        continue;
      }
      this.saw(message.v);
      if (message.v > (this.applied.get(pool) ?? 0)) await this.apply(message);
    }
    this.saw(counter);
    this.metrics.setPoolVersion(this.highest);
  }

  /** Redis lost the shared state (restarted empty): keep versions monotonic and write back what is known here. */
  private async restore(): Promise<void> {
    this.logger.warn({
      event: 'cluster_state_restored',
      instance: this.channel.instanceId,
      version: this.highest,
      pools: this.records.size,
      msg: 'the shared pool version went back (Redis lost its data): restoring it from this instance',
    });
    await this.scripts.raiseCounter(CLUSTER_KEYS.poolsVersion, this.highest);
    for (const message of this.records.values()) {
      await this.scripts.setIfNewer(CLUSTER_KEYS.pools, message.pool, message.v, encodePool(recordOf(message)));
    }
  }

  private saw(version: number): void {
    if (version > this.highest) this.highest = version;
  }

  private definition(pool: string): SyncedPoolDefinition | null {
    const found = this.pools.get(pool);
    if (found === undefined) return null;
    return { algo: found.algo, backends: found.backends.map(backendDefinition) };
  }
}
