import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { AdminGuard } from '../admin/admin.guard';
import { GatewayError, InvalidRequestError } from '../errors/errors';
import {
  AuditStreamService,
  type AuditStreamStatus,
  type StreamAuditEntry,
  type StreamQuery,
} from './audit-stream.service';
import { ClusterChannel, type ChannelStatus } from './cluster-channel';
import { PolicySyncService, type PolicySyncStatus } from './policy-sync.service';
import { PoolSyncService, type PoolSyncStatus } from './pool-sync.service';

/** 503: the shared Redis did not answer. */
export class SharedStateUnavailableError extends GatewayError {
  readonly status = 503;
  readonly code = 'redis_unavailable';
  constructor(reason: string) {
    super(`the shared Redis did not answer: ${reason}`);
  }
}

/** `GET /admin/cluster`. */
export interface ClusterStatus extends ChannelStatus {
  readonly pools: PoolSyncStatus;
  readonly policy: PolicySyncStatus;
  readonly audit: AuditStreamStatus;
}

/** `GET /admin/cluster/audit`: one page of the shared audit stream; `next` is the query of the following page. */
export interface StreamAuditPage {
  readonly stream: string;
  readonly entries: StreamAuditEntry[];
  readonly next: StreamQuery | null;
}

const STREAM_ID = /^\d{1,20}(-\d{1,20})?$/;

/** Validates the query of `GET /admin/cluster/audit`; every problem is a 400 `invalid_query` naming the parameter. */
export function parseStreamQuery(raw: Readonly<Record<string, unknown>>): StreamQuery {
  for (const key of Object.keys(raw)) {
    if (!['after', 'before', 'limit'].includes(key)) {
      throw new InvalidRequestError('invalid_query', `unknown parameter '${key}' (after, before, limit)`);
    }
  }
  const id = (key: 'after' | 'before'): string | undefined => {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !STREAM_ID.test(value)) {
      throw new InvalidRequestError('invalid_query', `${key} must be a stream id like 1718000000000-0`);
    }
    return value;
  };
  const after = id('after');
  const before = id('before');
  if (after !== undefined && before !== undefined) {
    throw new InvalidRequestError('invalid_query', 'give after or before, not both');
  }
  let limit = 100;
  if (raw.limit !== undefined) {
    limit = typeof raw.limit === 'string' && /^\d{1,3}$/.test(raw.limit) ? Number(raw.limit) : 0;
    if (limit < 1 || limit > 500) throw new InvalidRequestError('invalid_query', 'limit must be an integer 1..500');
  }
  return { after, before, limit };
}

/**
 * The cluster's admin endpoints (present when Redis is configured), behind {@link AdminGuard}: this instance's sync
 * state, and the shared audit stream of every instance for the admin UI.
 */
@Controller('admin/cluster')
@UseGuards(AdminGuard)
export class ClusterController {
  constructor(
    private readonly channel: ClusterChannel,
    private readonly pools: PoolSyncService,
    private readonly policy: PolicySyncService,
    private readonly audit: AuditStreamService,
  ) {}

  /** This instance's id, connection and sync state: pool versions, pending publications, the audit mirror. */
  @Get()
  status(): ClusterStatus {
    return {
      ...this.channel.status(),
      pools: this.pools.status(),
      policy: this.policy.status(),
      audit: this.audit.status(),
    };
  }

  /**
   * One page of the shared audit stream: newest first by default (`before=<id>` continues), or oldest first after
   * `after=<id>`; `limit` 1..500 (default 100). Entries carry the instance, its ledger seq and hash.
   */
  @Get('audit')
  async streamPage(@Query() query: Record<string, unknown>): Promise<StreamAuditPage> {
    const parsed = parseStreamQuery(query);
    try {
      return { stream: this.audit.status().stream, ...(await this.audit.read(parsed)) };
    } catch (error) {
      throw new SharedStateUnavailableError(error instanceof Error ? error.message : String(error));
    }
  }
}
