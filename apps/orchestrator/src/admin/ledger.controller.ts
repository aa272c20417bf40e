import { Controller, Get, Query, Req, StreamableFile, UseGuards } from '@nestjs/common';
import {
  type AuditPage,
  type AuditQuery,
  LedgerExportError,
  ledgerExportLines,
  type LedgerExportPlan,
  type LedgerExportRange,
  MAX_EXPORT_ENTRIES,
  type VerifyFailure,
  type VerifyOk,
} from '@shieldx/ledger';
import type { FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { AdminGuard, adminActor } from './admin.guard';
import { GatewayError, InvalidRequestError, LedgerExportRefusedError } from '../errors/errors';
import { SecurityEvents } from '../events/security-events';
import { LedgerService } from '../ledger/ledger.service';
import type { LedgerStatus } from '../ledger/ledger-types';

/** Most entries one `GET /admin/audit` page returns. */
export const AUDIT_MAX_LIMIT = 500;
/** Entries per page when `limit` is not given. */
export const AUDIT_DEFAULT_LIMIT = 100;

const QUERY_KEYS = new Set(['after', 'before', 'limit', 'type', 'order']);
const INTEGER = /^\d{1,15}$/;
const TYPE = /^[a-z0-9_.-]{1,64}$/;
const EXPORT_KEYS = new Set(['fromSeq', 'toSeq', 'since', 'until']);
const SEQ = /^[1-9]\d{0,15}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

/** 409: `GET /admin/ledger/verify` found the ledger broken; `details` is the verification result. */
export class LedgerBrokenError extends GatewayError {
  readonly status = 409;
  readonly code = 'ledger_broken';
  constructor(override readonly details: VerifyFailure) {
    super(
      details.seq === null
        ? `the audit ledger does not verify: ${details.reason}: ${details.message}`
        : `the audit ledger does not verify at seq ${details.seq}: ${details.reason}: ${details.message}`,
    );
  }
}

/** `GET /admin/audit`: one page of entries and the ledger's last seq. */
export type AuditAnswer = AuditPage & { lastSeq: number };

/** `GET /admin/ledger/verify` when the ledger is intact: the verification and the writer's state. */
export type LedgerVerifyAnswer = VerifyOk & { writer: LedgerStatus };

function bad(message: string): InvalidRequestError {
  return new InvalidRequestError('invalid_query', message);
}

/** Validates the query of `GET /admin/audit` (every problem is a 400 `invalid_query` naming the parameter). */
export function parseAuditQuery(raw: Readonly<Record<string, unknown>>): AuditQuery {
  for (const key of Object.keys(raw)) {
    if (!QUERY_KEYS.has(key)) throw bad(`unknown query parameter '${key}' (after, before, limit, type, order)`);
  }
  const text = (key: string): string | undefined => {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw bad(`${key} must be given once`);
    return value;
  };
  const integer = (key: string, min: number, max: number): number | undefined => {
    const value = text(key);
    if (value === undefined) return undefined;
    const n = INTEGER.test(value) ? Number(value) : NaN;
    if (!(n >= min && n <= max)) throw bad(`${key} must be an integer from ${min} to ${max}`);
    return n;
  };
  const after = integer('after', 0, Number.MAX_SAFE_INTEGER);
  const before = integer('before', 1, Number.MAX_SAFE_INTEGER);
  const limit = integer('limit', 1, AUDIT_MAX_LIMIT) ?? AUDIT_DEFAULT_LIMIT;
  const type = text('type');
  if (type !== undefined && !TYPE.test(type)) throw bad(`type must match ${TYPE.source}`);
  const order = text('order');
  if (order !== undefined && order !== 'asc' && order !== 'desc') throw bad('order must be asc or desc');
  if (after !== undefined && before !== undefined) throw bad('give after or before, not both');
  const resolved = order ?? (after !== undefined ? 'asc' : 'desc');
  if (resolved === 'asc' && before !== undefined) throw bad('before pages newest first: use order=desc or after');
  if (resolved === 'desc' && after !== undefined) throw bad('after pages oldest first: use order=asc or before');
  return { after, before, limit, type, order: resolved };
}

/**
 * Validates the query of `GET /admin/ledger/export`: `fromSeq` and `toSeq` (1 <= fromSeq <= toSeq, at most
 * {@link MAX_EXPORT_ENTRIES} seqs), or `since` and `until` (ISO-8601 UTC, since before until). Every problem is a
 * 400 `invalid_query`.
 */
export function parseExportQuery(raw: Readonly<Record<string, unknown>>): LedgerExportRange {
  for (const key of Object.keys(raw)) {
    if (!EXPORT_KEYS.has(key)) throw bad(`unknown query parameter '${key}' (fromSeq, toSeq, since, until)`);
  }
  const text = (key: string): string | undefined => {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw bad(`${key} must be given once`);
    return value;
  };
  const [fromSeq, toSeq, since, until] = ['fromSeq', 'toSeq', 'since', 'until'].map(text);
  const bySeq = fromSeq !== undefined || toSeq !== undefined;
  const byTime = since !== undefined || until !== undefined;
  if (bySeq === byTime) throw bad('give fromSeq and toSeq, or since and until');
  if (bySeq) {
    if (fromSeq === undefined || toSeq === undefined) throw bad('give both fromSeq and toSeq');
    const from = SEQ.test(fromSeq) ? Number(fromSeq) : NaN;
    const to = SEQ.test(toSeq) ? Number(toSeq) : NaN;
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to < from) {
      throw bad('fromSeq and toSeq must be integers, 1 <= fromSeq <= toSeq');
    }
    if (to - from + 1 > MAX_EXPORT_ENTRIES) throw bad(`at most ${MAX_EXPORT_ENTRIES} entries per export`);
    return { by: 'seq', fromSeq: from, toSeq: to };
  }
  if (since === undefined || until === undefined) throw bad('give both since and until');
  for (const [key, value] of [
    ['since', since],
    ['until', until],
  ] as const) {
    if (!ISO_TIME.test(value) || Number.isNaN(Date.parse(value))) {
      throw bad(`${key} must be an ISO-8601 UTC time such as 2026-01-31T00:00:00Z`);
    }
  }
  if (Date.parse(until) <= Date.parse(since)) throw bad('until must be after since');
  return { by: 'time', since, until };
}

/**
 * The audit ledger's admin endpoints (guarded by {@link AdminGuard}):
 * - `GET /admin/audit?after=<seq>|before=<seq>&limit=<1..500>&type=<type>&order=asc|desc`: one page of entries.
 *   Without a cursor, the newest entries first; `after` pages oldest first from a seq, `before` newest first below one.
 *   The answer's `next` is the query for the following page (`null` at the end).
 * - `GET /admin/ledger/verify`: verifies the whole chain (rotated files, checkpoint signatures with the configured
 *   key). 200 with the result when intact; 409 `ledger_broken` with the result in `details` (first bad seq, file, line,
 *   reason) when not, so a monitoring probe fails on a broken ledger the way it fails on any error.
 * - `GET /admin/ledger/export?fromSeq=&toSeq=|since=&until=`: streams an export of the range for auditors
 *   (application/x-ndjson, as an attachment), verifiable offline by `shieldx ledger verify`; audited.
 */
@Controller('admin')
@UseGuards(AdminGuard)
export class LedgerController {
  constructor(
    private readonly ledger: LedgerService,
    private readonly events: SecurityEvents,
  ) {}

  @Get('audit')
  audit(@Query() query: Record<string, unknown>): Promise<AuditAnswer> {
    return this.ledger.page(parseAuditQuery(query));
  }

  @Get('ledger/export')
  async export(@Query() query: Record<string, unknown>, @Req() request: FastifyRequest): Promise<StreamableFile> {
    const range = parseExportQuery(query);
    let plan: LedgerExportPlan;
    try {
      plan = await this.ledger.exportPlan(range);
    } catch (error) {
      if (error instanceof LedgerExportError) throw new LedgerExportRefusedError(error.reason, error.message);
      throw error;
    }
    const { fromSeq, toSeq } = plan.header;
    this.events.emit({
      type: 'admin.action',
      corrId: request.id,
      data: { action: 'ledger.export', actor: adminActor(request), range, fromSeq, toSeq, endsSigned: plan.endsSigned },
    });
    return new StreamableFile(Readable.from(ledgerExportLines(plan)), {
      type: 'application/x-ndjson',
      disposition: `attachment; filename="ledger-export-${fromSeq}-${toSeq}.jsonl"`,
    });
  }

  @Get('ledger/verify')
  async verify(): Promise<LedgerVerifyAnswer> {
    const result = await this.ledger.verify();
    if (!result.ok) throw new LedgerBrokenError(result);
    return { ...result, writer: this.ledger.status() };
  }
}
