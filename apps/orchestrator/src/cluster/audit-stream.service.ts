import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { type AcceptedLedgerEntry } from '../ledger/ledger-types';
import { LedgerService } from '../ledger/ledger.service';
import { REDIS_CLIENT } from '../redis/redis.constants';
import { ClusterChannel } from './cluster-channel';
import { AUDIT_BACKLOG_MAX, AUDIT_DRAIN_BATCH, AUDIT_RETRY_MS } from './cluster.constants';
import { ClusterMetrics } from './cluster-metrics';

/** One entry of the shared audit stream, as `GET /admin/cluster/audit` returns it. */
export interface StreamAuditEntry {
  /** The stream entry id (`<ms>-<n>`), the cursor for paging. */
  readonly id: string;
  readonly instance: string;
  readonly seq: number;
  readonly ts: string;
  readonly type: string;
  readonly corrId: string | null;
  /** The entry's hash in its instance's own ledger chain. */
  readonly hash: string;
  readonly data: unknown;
}

/** What `GET /admin/cluster` says about the mirror. */
export interface AuditStreamStatus {
  readonly stream: string;
  readonly maxLen: number;
  readonly enabled: boolean;
  /** Entries waiting for Redis. */
  readonly backlog: number;
  readonly mirrored: number;
  readonly dropped: number;
}

/** Query of {@link AuditStreamService.read}. */
export interface StreamQuery {
  /** Oldest first, after this stream id (exclusive); without it, newest first. */
  readonly after?: string;
  /** Newest first, before this stream id (exclusive). */
  readonly before?: string;
  readonly limit: number;
}

/**
 * Mirrors this instance's audit ledger into the shared Redis Stream ORCH_AUDIT_STREAM (`shieldx:audit`), so the admin
 * UI can show the audit events of every instance in one place; each instance still keeps (and verifies) its own hash
 * chain file. Every entry the ledger writer accepts (after the ledger's aggregation and per-type cap) becomes one
 * `XADD <stream> MAXLEN ~ <maxlen> * instance … seq … ts … type … corrId … hash … data <json>`
 * on the shared client.
 *
 * Never in a request's way: the XADD is not awaited by anyone. While Redis is unavailable entries wait in a bounded
 * backlog (10 000; beyond it the oldest are dropped and counted), sent in order once the client is ready again.
 * `orchestrator_audit_stream_total{outcome}` counts mirrored and dropped entries; failures count in
 * `orchestrator_cluster_sync_errors_total{kind="audit"}`.
 */
@Injectable()
export class AuditStreamService implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger('cluster');
  private readonly stream: string;
  private readonly maxLen: string;
  private readonly enabled: boolean;
  private backlog: AcceptedLedgerEntry[] = [];
  private draining = false;
  private mirrored = 0;
  private dropped = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private readonly onReady = () => void this.drain();

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly ledger: LedgerService,
    private readonly channel: ClusterChannel,
    private readonly metrics: ClusterMetrics,
  ) {
    this.stream = config.cluster.auditStream;
    this.maxLen = String(config.cluster.auditStreamMaxLen);
    this.enabled = config.cluster.auditStreamMaxLen > 0;
    // Here rather than in onModuleInit: the ledger writes `audit.started` in its own onModuleInit, which may run first.
    if (this.enabled) this.ledger.onEntry((entry) => this.offer(entry));
  }

  onModuleInit(): void {
    if (this.enabled) this.redis.on('ready', this.onReady);
  }

  /**
   * Stops retrying. The ledger listener stays, so `audit.stopped` (written in the ledger's shutdown hook) is still sent
   * when the shared client is open then; when it is already closed, the entry is in the ledger file only.
   */
  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.redis.off('ready', this.onReady);
  }

  /** Shutting down: entries that cannot be sent any more are counted as dropped, without a warning. */
  beforeApplicationShutdown(): void {
    this.stopped = true;
  }

  status(): AuditStreamStatus {
    return {
      stream: this.stream,
      maxLen: Number(this.maxLen),
      enabled: this.enabled,
      backlog: this.backlog.length,
      mirrored: this.mirrored,
      dropped: this.dropped,
    };
  }

  /** One page of the shared stream (every instance's entries), `limit` 1..500. */
  async read(query: StreamQuery): Promise<{ entries: StreamAuditEntry[]; next: StreamQuery | null }> {
    const count = String(query.limit);
    const raw =
      query.after !== undefined
        ? await this.redis.xrange(this.stream, `(${query.after}`, '+', 'COUNT', count)
        : await this.redis.xrevrange(
            this.stream,
            query.before === undefined ? '+' : `(${query.before}`,
            '-',
            'COUNT',
            count,
          );
    const entries = raw.map(([id, fields]) => toEntry(id, fields));
    const last = entries.at(-1);
    const next =
      entries.length < query.limit || last === undefined
        ? null
        : query.after !== undefined
          ? { after: last.id, limit: query.limit }
          : { before: last.id, limit: query.limit };
    return { entries, next };
  }

  private offer(entry: AcceptedLedgerEntry): void {
    if (this.backlog.length > 0 || this.draining || this.redis.status !== 'ready') {
      this.keep(entry);
      return;
    }
    void this.send(entry).then((ok) => {
      if (!ok) this.keep(entry);
    });
  }

  /** XADD one entry; resolves false (never rejects) when Redis did not take it. */
  private async send(entry: AcceptedLedgerEntry): Promise<boolean> {
    try {
      await this.redis.xadd(
        this.stream,
        'MAXLEN',
        '~',
        this.maxLen,
        '*',
        'instance',
        this.config.cluster.instanceId,
        'seq',
        String(entry.seq),
        'ts',
        entry.ts,
        'type',
        entry.type,
        'corrId',
        entry.corrId ?? '',
        'hash',
        entry.hash,
        'data',
        JSON.stringify(entry.data),
      );
      this.mirrored++;
      this.metrics.audit('mirrored');
      return true;
    } catch (error) {
      if (this.stopped) {
        this.dropped++;
        this.metrics.audit('dropped');
        return true;
      }
      this.channel.problem('audit', error, 'audit entries wait for Redis (the ledger file has them)', {
        stream: this.stream,
      });
      return false;
    }
  }

  private keep(entry: AcceptedLedgerEntry): void {
    if (this.stopped) {
      this.dropped++;
      this.metrics.audit('dropped');
      return;
    }
    this.backlog.push(entry);
    this.scheduleDrain();
    if (this.backlog.length > AUDIT_BACKLOG_MAX) {
      const over = this.backlog.length - AUDIT_BACKLOG_MAX;
      this.backlog.splice(0, over);
      this.dropped += over;
      this.metrics.audit('dropped', over);
    }
  }

  /** Tries the backlog again in a second (a failure without a disconnection brings no `ready` event). */
  private scheduleDrain(): void {
    if (this.retryTimer !== undefined || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.drain();
    }, AUDIT_RETRY_MS);
    this.retryTimer.unref();
  }

  /** Sends the backlog in order, a batch at a time, while Redis takes it. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.backlog.length > 0 && this.redis.status === 'ready') {
        const batch = this.backlog.slice(0, AUDIT_DRAIN_BATCH);
        const sent = await Promise.all(batch.map((entry) => this.send(entry)));
        const done = sent.indexOf(false) === -1 ? sent.length : sent.indexOf(false);
        // Entries after a failure stay (a few may be sent twice; seq and hash identify them).
        this.backlog.splice(0, done);
        if (done < batch.length) break;
      }
      if (this.backlog.length > 0) this.scheduleDrain();
      if (this.backlog.length === 0) this.logger.debug({ event: 'audit_stream_caught_up', stream: this.stream });
    } finally {
      this.draining = false;
    }
  }
}

function toEntry(id: string, fields: string[]): StreamAuditEntry {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i], fields[i + 1]);
  let data: unknown = null;
  try {
    data = JSON.parse(map.get('data') ?? 'null');
  } catch {
    data = map.get('data') ?? null;
  }
  const corrId = map.get('corrId') ?? '';
  return {
    id,
    instance: map.get('instance') ?? '',
    seq: Number(map.get('seq') ?? 0),
    ts: map.get('ts') ?? '',
    type: map.get('type') ?? '',
    corrId: corrId === '' ? null : corrId,
    hash: map.get('hash') ?? '',
    data,
  };
}
