import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { currentCorrId } from '../request/request-context';
import { PolicyService } from '../policy/policy.service';
import { ClusterChannel } from './cluster-channel';
import { CLUSTER_KEYS } from './cluster.constants';
import { ClusterMetrics } from './cluster-metrics';
import { clusterScripts } from './cluster-scripts';

/** What an admin did to the policy: reloaded its files, or promoted the candidate policy. */
type PolicyChange = 'reload' | 'promote';

/**
 * A policy change on the channel: its number from the shared counter, what it was, who asked, and the request's
 * correlation id. A message without `kind` (an older instance) is a reload.
 */
interface ReloadMessage {
  readonly v: number;
  readonly kind: PolicyChange;
  readonly origin: string;
  readonly corrId: string | null;
  readonly at: string;
}

function parseReload(text: string): ReloadMessage {
  const value = JSON.parse(text) as Record<string, unknown>;
  const { v, kind, origin, corrId, at } = value ?? {};
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new Error('bad version');
  if (kind !== undefined && kind !== 'reload' && kind !== 'promote') throw new Error('bad kind');
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > 256) throw new Error('bad origin');
  if (corrId !== null && (typeof corrId !== 'string' || corrId.length > 128)) throw new Error('bad corrId');
  return { v, kind: kind ?? 'reload', origin, corrId, at: typeof at === 'string' ? at : '' };
}

/** The `{v, kind}` of the latest change, or undefined when absent or unreadable. */
function parseLast(text: string | null): { v: number; kind: PolicyChange } | undefined {
  if (text === null) return undefined;
  try {
    const { v, kind } = JSON.parse(text) as Record<string, unknown>;
    if (typeof v === 'number' && Number.isSafeInteger(v) && (kind === 'reload' || kind === 'promote')) {
      return { v, kind };
    }
  } catch {
    // Unreadable: the change is applied as a reload.
  }
  return undefined;
}

/** What `GET /admin/cluster` says about policy reloads. */
export interface PolicySyncStatus {
  /** Highest shared reload number seen (admin reloads on any instance). */
  readonly version: number;
  /** An admin reload or promotion made here that could not be shared yet. */
  readonly pending: boolean;
}

/**
 * Admin-triggered policy reloads and promotions of the candidate policy, on every instance (docs/scale-out.md).
 * `POST /admin/policy/reload` reloads this instance's files, `POST /admin/policy/promote` makes its candidate active;
 * the change is then numbered with the shared counter `shieldx:policy:version`, kept as the latest in
 * `shieldx:policy:last` and announced on `shieldx:policy:reload`. Every other instance reloads its own files (trigger
 * `cluster`, recorded as `policy.reloaded` with the admin request's correlation id) and, for a promotion, then
 * promotes its freshly loaded candidate (recorded as `policy.promote` by `cluster:<origin>`), so every instance ends
 * with the candidate's file active whatever it had loaded before. Reloads of watched files are not announced (each
 * instance watches its own). An instance that missed announcements (disconnected) applies the latest change once
 * when it sees the counter ahead of what it saw; the counter's value at start-up counts as seen (the policy was just
 * loaded).
 */
@Injectable()
export class PolicySyncService implements OnModuleInit {
  private readonly logger = new Logger('cluster');
  private seen = 0;
  private started = false;
  private pending: { corrId: string | null; kind: PolicyChange } | null = null;
  private publishing = false;

  constructor(
    private readonly channel: ClusterChannel,
    private readonly policy: PolicyService,
    private readonly metrics: ClusterMetrics,
  ) {}

  onModuleInit(): void {
    this.policy.onReload((_outcome, trigger) => {
      if (trigger !== 'admin' && trigger !== 'promote') return;
      // The latest change wins: a promotion is applied elsewhere as a reload then a promotion.
      this.pending = { corrId: currentCorrId() ?? null, kind: trigger === 'admin' ? 'reload' : 'promote' };
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
        kind: entry.kind,
        origin: this.channel.instanceId,
        corrId: entry.corrId,
        at: new Date().toISOString(),
      };
      await this.channel.redis.set(CLUSTER_KEYS.policyLast, JSON.stringify({ v, kind: entry.kind }));
      await this.channel.redis.publish(CLUSTER_KEYS.policyChannel, JSON.stringify(message));
      if (this.pending === entry) this.pending = null;
      this.metrics.sync('policy', 'published');
      this.logger.log({
        event: 'cluster_policy_reload_published',
        kind: entry.kind,
        version: v,
        instance: this.channel.instanceId,
      });
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
    void this.apply(message.kind, message.corrId ?? undefined, message.origin);
  }

  /** Reloads this instance's files and, for a promotion, then promotes the candidate they give. Never rejects. */
  private async apply(kind: PolicyChange, corrId: string | undefined, origin: string): Promise<void> {
    this.metrics.sync('policy', 'applied');
    this.logger.log({ event: 'cluster_policy_reload', kind, origin, instance: this.channel.instanceId });
    // The reload names who caused it, as the promotion below does: the instance the change came from.
    await this.policy.reload('cluster', corrId, `cluster:${origin}`);
    if (kind !== 'promote') return;
    try {
      this.policy.promote(`cluster:${origin}`, corrId, 'cluster');
    } catch (error) {
      this.channel.problem(
        'apply',
        error,
        'another instance promoted its candidate policy; this one has none to promote',
        {
          origin,
        },
      );
    }
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
      const last = parseLast(await this.channel.redis.get(CLUSTER_KEYS.policyLast));
      await this.apply(last?.v === counter ? last.kind : 'reload', undefined, 'resync');
    } else if (counter < this.seen) {
      // Redis lost its data: raise the counter again so later reloads are numbered above what every instance saw.
      await clusterScripts(this.channel.redis).raiseCounter(CLUSTER_KEYS.policyVersion, this.seen);
    }
  }
}
