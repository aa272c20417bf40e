import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { currentCorrId } from '../request/request-context';
import { PolicyService } from '../policy/policy.service';
import { ClusterChannel } from './cluster-channel';
import { CLUSTER_KEYS } from './cluster.constants';
import { ClusterMetrics } from './cluster-metrics';
import { clusterScripts } from './cluster-scripts';

/** A policy reload on the channel: its number from the shared counter, who asked, and the request's correlation id. */
interface ReloadMessage {
  readonly v: number;
  readonly origin: string;
  readonly corrId: string | null;
  readonly at: string;
}

function parseReload(text: string): ReloadMessage {
  const value = JSON.parse(text) as Record<string, unknown>;
  const { v, origin, corrId, at } = value ?? {};
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new Error('bad version');
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > 256) throw new Error('bad origin');
  if (corrId !== null && (typeof corrId !== 'string' || corrId.length > 128)) throw new Error('bad corrId');
  return { v, origin, corrId, at: typeof at === 'string' ? at : '' };
}

/** What `GET /admin/cluster` says about policy reloads. */
export interface PolicySyncStatus {
  /** Highest shared reload number seen (admin reloads on any instance). */
  readonly version: number;
  /** An admin reload made here that could not be shared yet. */
  readonly pending: boolean;
}

/**
 * Admin-triggered policy reloads, on every instance (docs/scale-out.md). `POST /admin/policy/reload` reloads this
 * instance's files; the reload is then numbered with the shared counter `shieldx:policy:version` and announced on
 * `shieldx:policy:reload`, and every other instance reloads its own files (trigger `cluster`, recorded as
 * `policy.reloaded` with the admin request's correlation id). Reloads of watched files are not announced (each
 * instance watches its own). An instance that missed announcements (disconnected) reloads once when it sees the
 * counter ahead of what it saw; the counter's value at start-up counts as seen (the policy was just loaded).
 */
@Injectable()
export class PolicySyncService implements OnModuleInit {
  private readonly logger = new Logger('cluster');
  private seen = 0;
  private started = false;
  private pending: { corrId: string | null } | null = null;
  private publishing = false;

  constructor(
    private readonly channel: ClusterChannel,
    private readonly policy: PolicyService,
    private readonly metrics: ClusterMetrics,
  ) {}

  onModuleInit(): void {
    this.policy.onReload((_outcome, trigger) => {
      if (trigger !== 'admin') return;
      this.pending = { corrId: currentCorrId() ?? null };
      void this.publish();
    });
    this.channel.subscribe(CLUSTER_KEYS.policyChannel, (message) => this.onMessage(message));
    this.channel.onResync((full) => this.resync(full));
  }

  status(): PolicySyncStatus {
    return { version: this.seen, pending: this.pending !== null };
  }

  private async publish(): Promise<void> {
    const entry = this.pending;
    if (entry === null || this.publishing) return;
    this.publishing = true;
    try {
      const v = await this.channel.redis.incr(CLUSTER_KEYS.policyVersion);
      if (v > this.seen) this.seen = v;
      const message: ReloadMessage = {
        v,
        origin: this.channel.instanceId,
        corrId: entry.corrId,
        at: new Date().toISOString(),
      };
      await this.channel.redis.publish(CLUSTER_KEYS.policyChannel, JSON.stringify(message));
      if (this.pending === entry) this.pending = null;
      this.metrics.sync('policy', 'published');
      this.logger.log({ event: 'cluster_policy_reload_published', version: v, instance: this.channel.instanceId });
    } catch (error) {
      this.channel.problem('publish', error, 'a policy reload could not be announced; it is when Redis is back');
    } finally {
      this.publishing = false;
    }
    if (this.pending !== null && this.pending !== entry) void this.publish();
  }

  private onMessage(text: string): void {
    const message = parseReload(text);
    if (message.v <= this.seen) return;
    this.seen = message.v;
    if (message.origin === this.channel.instanceId) return;
    this.reload(message.corrId ?? undefined, message.origin);
  }

  private reload(corrId: string | undefined, origin: string): void {
    this.metrics.sync('policy', 'applied');
    this.logger.log({ event: 'cluster_policy_reload', origin, instance: this.channel.instanceId });
    void this.policy.reload('cluster', corrId);
  }

  private async resync(_full: boolean): Promise<void> {
    if (this.pending !== null) await this.publish();
    const counter = Number((await this.channel.redis.get(CLUSTER_KEYS.policyVersion)) ?? 0);
    if (!this.started) {
      this.started = true;
      this.seen = Math.max(this.seen, counter);
      return;
    }
    if (counter > this.seen) {
      this.seen = counter;
      this.reload(undefined, 'resync');
    } else if (counter < this.seen) {
      // Redis lost its data: raise the counter again so later reloads are numbered above what every instance saw.
      await clusterScripts(this.channel.redis).raiseCounter(CLUSTER_KEYS.policyVersion, this.seen);
    }
  }
}
