import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { AdaptiveKeyInfo } from '@shieldx/security';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { AdaptiveProtection, type SharedAdaptiveKey } from '../ratelimit/adaptive-protection';
import { adaptiveField, parseAdaptiveMessage, parseSharedKey, type AdaptiveMessage } from './adaptive-sync.codec';
import { ClusterChannel } from './cluster-channel';
import { ADAPTIVE_LEASE_INTERVALS, CLUSTER_KEYS, MAX_OWN_SHARED_KEYS } from './cluster.constants';
import { ClusterMetrics } from './cluster-metrics';

/**
 * Adaptive limits across instances (docs/scale-out.md). Each instance models the traffic it sees; a key its model
 * tightens is shared: written to the hash `shieldx:adaptive:keys` (field `<origin> <key>`) with a lease of three resync
 * intervals and announced on `shieldx:adaptive:changes`. Every other instance applies the lowest factor any instance
 * gives a key, computing the recovery's climb itself. While the key stays tightened its origin renews the lease at
 * every resync; a relaxed key is deleted and announced; an instance that stops (or loses Redis) stops renewing, and its
 * keys lapse everywhere when their lease ends. Every resync also reads the whole hash, so an instance that missed
 * messages or just started applies what the others hold now. An operator's release on any instance is announced and
 * applied on every instance. Clocks are assumed synchronised to well within the lease.
 */
@Injectable()
export class AdaptiveSyncService implements OnModuleInit {
  private readonly logger = new Logger('cluster');
  /** Keys whose local state changed since the last publish. */
  private readonly changed = new Set<string>();
  /** Keys an operator released here, to announce. */
  private readonly released = new Set<string>();
  private scheduled = false;
  private publishing = false;
  private readonly leaseMs: number;

  constructor(
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
    private readonly channel: ClusterChannel,
    private readonly adaptive: AdaptiveProtection,
    private readonly metrics: ClusterMetrics,
  ) {
    this.leaseMs = ADAPTIVE_LEASE_INTERVALS * config.cluster.resyncEveryMs;
  }

  onModuleInit(): void {
    if (this.adaptive.mode === 'off') return;
    this.adaptive.onChange((key) => this.mark(this.changed, key));
    this.adaptive.onRelease((key) => this.mark(this.released, key));
    this.channel.subscribe(CLUSTER_KEYS.adaptiveChannel, (message) => this.onMessage(message));
    this.channel.onResync(() => this.resync());
  }

  private mark(set: Set<string>, key: string): void {
    set.add(key);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Changes raised by one request (or one burst) go out together.
    setImmediate(() => {
      this.scheduled = false;
      void this.publish();
    });
  }

  /** Writes and announces the changed keys; on failure they are kept for the next try (at the next resync). */
  private async publish(): Promise<void> {
    if (this.publishing || (this.changed.size === 0 && this.released.size === 0)) return;
    this.publishing = true;
    const origin = this.channel.instanceId;
    const now = Date.now();
    const set: SharedAdaptiveKey[] = [];
    const del: string[] = [];
    for (const key of this.changed) {
      const entry = this.entryOf(this.adaptive.inspect(key, now), now);
      if (entry === undefined) del.push(key);
      else set.push(entry);
    }
    const release = [...this.released];
    this.changed.clear();
    this.released.clear();
    const message: AdaptiveMessage = { origin, set, del, release };
    const redis = this.channel.redis;
    let failed = false;
    try {
      const writes: Promise<unknown>[] = [];
      if (set.length > 0) {
        writes.push(
          redis.hset(
            CLUSTER_KEYS.adaptiveKeys,
            ...set.flatMap((entry) => [adaptiveField(origin, entry.key), JSON.stringify(entry)]),
          ),
        );
      }
      if (del.length > 0) {
        writes.push(redis.hdel(CLUSTER_KEYS.adaptiveKeys, ...del.map((key) => adaptiveField(origin, key))));
      }
      await Promise.all(writes);
      await redis.publish(CLUSTER_KEYS.adaptiveChannel, JSON.stringify(message));
      this.metrics.sync('adaptive', 'published');
    } catch (error) {
      failed = true;
      for (const entry of set) this.changed.add(entry.key);
      for (const key of del) this.changed.add(key);
      for (const key of release) this.released.add(key);
      this.channel.problem('publish', error, 'adaptive limit changes could not be shared; retried at the next resync');
    } finally {
      this.publishing = false;
    }
    // Changes that arrived meanwhile go out now; after a failure they wait for the next resync.
    if (!failed && (this.changed.size > 0 || this.released.size > 0)) this.schedule();
  }

  private onMessage(text: string): void {
    const message = parseAdaptiveMessage(text);
    if (message.origin === this.channel.instanceId) return;
    const now = Date.now();
    for (const entry of message.set) if (entry.expiresAt > now) this.adaptive.applyShared(entry);
    for (const key of message.del) this.adaptive.dropShared(message.origin, key);
    for (const key of message.release) {
      this.adaptive.releaseHere(key, now);
      this.logger.log({
        event: 'cluster_adaptive_release',
        key,
        origin: message.origin,
        instance: this.channel.instanceId,
      });
    }
    this.metrics.sync('adaptive', 'applied');
  }

  /**
   * Renews this instance's tightened keys (which also lets its model raise due recoveries), then reads every
   * instance's and applies them; entries whose lease ended long ago, and this instance's own stale ones (from before
   * a restart), are deleted.
   */
  private async resync(): Promise<void> {
    if (this.changed.size > 0 || this.released.size > 0) await this.publish();
    const redis = this.channel.redis;
    const origin = this.channel.instanceId;
    const now = Date.now();
    const own = this.adaptive.tightenedNow(now).slice(0, MAX_OWN_SHARED_KEYS);
    if (own.length > 0) {
      const fields = own.flatMap((info) => [adaptiveField(origin, info.key), JSON.stringify(this.entryOf(info, now))]);
      await redis.hset(CLUSTER_KEYS.adaptiveKeys, ...fields);
    }
    const ownKeys = new Set(own.map((info) => info.key));
    const stored = await redis.hgetall(CLUSTER_KEYS.adaptiveKeys);
    const others: SharedAdaptiveKey[] = [];
    const stale: string[] = [];
    for (const [field, text] of Object.entries(stored)) {
      let entry: SharedAdaptiveKey;
      try {
        entry = parseSharedKey(JSON.parse(text));
      } catch (error) {
        stale.push(field);
        this.channel.problem('message', error, 'a malformed shared adaptive key was deleted', { field });
        continue;
      }
      if (entry.origin === origin) {
        if (!ownKeys.has(entry.key)) stale.push(field);
      } else if (entry.expiresAt + this.leaseMs < now) {
        // Long past its lease (its origin stopped): tidy up. One only just expired may be renewed at this moment.
        stale.push(field);
      } else if (entry.expiresAt > now) {
        others.push(entry);
      }
    }
    if (stale.length > 0) await redis.hdel(CLUSTER_KEYS.adaptiveKeys, ...stale);
    this.adaptive.replaceShared(others, now);
  }

  /** The shared form of a key of this instance's model; undefined when it is normal again (or forgotten). */
  private entryOf(info: AdaptiveKeyInfo | undefined, now: number): SharedAdaptiveKey | undefined {
    if (info === undefined || info.phase === 'normal') return undefined;
    const { tightenFactor, recoveryMs } = this.adaptive.settings;
    return {
      key: info.key,
      origin: this.channel.instanceId,
      phase: info.phase,
      since: info.since,
      recoveringSince: info.recoveringSince,
      tightenFactor,
      recoveryMs,
      enforced: this.adaptive.mode === 'enforce',
      baselineRate: info.baselineRate,
      currentRate: info.currentRate,
      thresholdRate: info.thresholdRate,
      expiresAt: now + this.leaseMs,
    };
  }
}
