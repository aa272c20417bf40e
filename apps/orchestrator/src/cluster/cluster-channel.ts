import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { REDIS_CLIENT } from '../redis/redis.constants';
import { CLUSTER_LOG_EVERY_MS } from './cluster.constants';
import { ClusterMetrics, type ClusterErrorKind } from './cluster-metrics';
import { duplicateClient } from './redis-clients';

/**
 * A resync step: `full` after every (re)subscription (read the whole shared state), otherwise the periodic cheap
 * check (compare a version counter, read everything only when something was missed). Rejects on a Redis failure.
 */
export type ResyncStep = (full: boolean) => Promise<void>;

/** What `GET /admin/cluster` says about the channel. */
export interface ChannelStatus {
  readonly instanceId: string;
  /** ioredis status of the shared client and of the subscriber connection. */
  readonly redis: string;
  readonly subscriber: string;
  readonly subscribed: boolean;
  /** Subscribed, and the last resync succeeded. */
  readonly inSync: boolean;
  readonly lastSyncAt: string | null;
  readonly lastError: string | null;
}

/**
 * The shared channels of the cluster (docs/scale-out.md): one dedicated subscriber connection (a duplicate of the
 * shared client; a connection in subscriber mode can send nothing else), the message handlers of the sync services,
 * and the resync schedule. After every (re)subscription the registered steps run in full (so an instance that was
 * cut off, or just started, catches up on what it missed); every ORCH_CLUSTER_RESYNC_EVERY they run their cheap
 * check. Nothing here ever throws into a request: failures are logged (at most one line per kind per 10 s), counted in
 * `orchestrator_cluster_sync_errors_total{kind}`, and `orchestrator_cluster_up` says whether the instance is in sync.
 */
@Injectable()
export class ClusterChannel implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('cluster');
  private readonly handlers = new Map<string, (message: string) => void>();
  private readonly steps: ResyncStep[] = [];
  private subscriber: Redis | null = null;
  private subscribed = false;
  private inSync = false;
  private running = false;
  private again: 'none' | 'tick' | 'full' = 'none';
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastSyncAt: number | null = null;
  private lastError: string | null = null;
  private readonly lastLogAt = new Map<ClusterErrorKind, number>();
  private closed = false;
  private attaching: Promise<void> | null = null;

  constructor(
    @Inject(REDIS_CLIENT) readonly redis: Redis,
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly metrics: ClusterMetrics,
  ) {}

  /** This instance's id (ORCH_INSTANCE_ID, `/w<n>` in a worker). */
  get instanceId(): string {
    return this.config.cluster.instanceId;
  }

  /** Handles messages of `channel` (register before the application starts). */
  subscribe(channel: string, handler: (message: string) => void): void {
    this.handlers.set(channel, handler);
  }

  /** Adds a resync step (register before the application starts); steps run in registration order. */
  onResync(step: ResyncStep): void {
    this.steps.push(step);
  }

  /** Asks for a full resync soon (a sync service saw that it lost a race). */
  requestResync(): void {
    void this.resync(true);
  }

  /**
   * Opens the subscriber and runs the first full resync before the server listens, so a new instance serves the
   * shared pools from its first request. An unreachable Redis delays start-up by at most the connect timeout.
   */
  async onApplicationBootstrap(): Promise<void> {
    const subscriber = duplicateClient(this.redis, `shieldx-orchestrator-sub:${this.instanceId}`);
    this.subscriber = subscriber;
    subscriber.on('error', (error: Error) => (this.lastError = error.message));
    subscriber.on('message', (channel: string, message: string) => this.dispatch(channel, message));
    subscriber.on('close', () => {
      if (this.subscribed && !this.closed) {
        this.logger.warn({
          event: 'cluster_disconnected',
          instance: this.instanceId,
          msg: 'lost the shared channel; pools and policy reloads resync when Redis is back',
        });
      }
      this.subscribed = false;
      this.setInSync(false);
    });
    subscriber.on('ready', () => void this.attach());
    try {
      await subscriber.connect();
    } catch (error) {
      this.problem('subscribe', error, 'cannot reach Redis for the shared channel; retrying in the background');
    }
    // `ready` may have fired during connect(); attach() is idempotent and waits for nothing else.
    if (subscriber.status === 'ready') await this.attach();
    this.timer = setInterval(() => void this.tick(), this.config.cluster.resyncEveryMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.subscriber?.disconnect();
    this.subscriber = null;
    this.setInSync(false);
  }

  /** For `GET /admin/cluster`. */
  status(): ChannelStatus {
    return {
      instanceId: this.instanceId,
      redis: this.redis.status,
      subscriber: this.subscriber?.status ?? 'closed',
      subscribed: this.subscribed,
      inSync: this.inSync,
      lastSyncAt: this.lastSyncAt === null ? null : new Date(this.lastSyncAt).toISOString(),
      lastError: this.lastError,
    };
  }

  /**
   * Logs a failure (at most once per kind per 10 s; the count is exact) and counts it. Never throws.
   * @param kind what failed
   */
  problem(kind: ClusterErrorKind, error: unknown, msg: string, extra: Record<string, unknown> = {}): void {
    this.metrics.error(kind);
    const message = error instanceof Error ? error.message : String(error);
    this.lastError = message;
    const now = Date.now();
    if (now - (this.lastLogAt.get(kind) ?? -Infinity) < CLUSTER_LOG_EVERY_MS) return;
    this.lastLogAt.set(kind, now);
    this.logger.warn({ event: 'cluster_sync_error', kind, error: message, instance: this.instanceId, ...extra, msg });
  }

  /** Subscribes (once at a time) and then resyncs in full. */
  private attach(): Promise<void> {
    this.attaching ??= this.subscribeAndResync().finally(() => (this.attaching = null));
    return this.attaching;
  }

  private async subscribeAndResync(): Promise<void> {
    const subscriber = this.subscriber;
    if (subscriber === null || this.subscribed || this.closed) return;
    try {
      await subscriber.subscribe(...this.handlers.keys());
    } catch (error) {
      this.problem('subscribe', error, 'could not subscribe to the shared channels; retrying');
      return;
    }
    if (this.subscriber !== subscriber) return;
    this.subscribed = true;
    this.logger.log({ event: 'cluster_subscribed', instance: this.instanceId, channels: [...this.handlers.keys()] });
    await this.resync(true);
  }

  private dispatch(channel: string, message: string): void {
    const handler = this.handlers.get(channel);
    if (handler === undefined) return;
    try {
      handler(message);
    } catch (error) {
      this.problem('message', error, 'a shared-channel message could not be handled', { channel });
    }
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    const subscriber = this.subscriber;
    if (!this.subscribed && subscriber?.status === 'ready') {
      await this.attach();
      return;
    }
    await this.resync(false);
  }

  /** Runs the steps; a request arriving meanwhile runs once more afterwards (a full one wins over a tick). */
  private async resync(full: boolean): Promise<void> {
    if (this.running) {
      if (full || this.again === 'none') this.again = full ? 'full' : 'tick';
      return;
    }
    this.running = true;
    try {
      let mode: boolean | null = full;
      while (mode !== null && !this.closed) {
        await this.runSteps(mode);
        const next = this.again;
        this.again = 'none';
        mode = next === 'none' ? null : next === 'full';
      }
    } finally {
      this.running = false;
    }
  }

  private async runSteps(full: boolean): Promise<void> {
    if (this.redis.status !== 'ready') {
      this.setInSync(false);
      return;
    }
    try {
      for (const step of this.steps) await step(full);
      this.lastSyncAt = Date.now();
      this.setInSync(this.subscribed);
    } catch (error) {
      this.setInSync(false);
      this.problem('resync', error, 'resync with the shared state failed; retrying', { full });
    }
  }

  private setInSync(inSync: boolean): void {
    if (this.inSync === inSync) {
      this.metrics.setUp(inSync);
      return;
    }
    this.inSync = inSync;
    this.metrics.setUp(inSync);
    if (inSync) this.logger.log({ event: 'cluster_in_sync', instance: this.instanceId });
  }
}
