import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import type { AuditPage, AuditQuery, VerifyFailure, VerifyOk } from '@shieldx/ledger';
import { AdminGuard } from './admin.guard';
import { GatewayError, InvalidRequestError } from '../errors/errors';
import { LedgerService } from '../ledger/ledger.service';

/** Most entries one `GET /admin/audit` page returns. */
export const AUDIT_MAX_LIMIT = 500;
/** Entries per page when `limit` is not given. */
export const AUDIT_DEFAULT_LIMIT = 100;

const QUERY_KEYS = new Set(['after', 'before', 'limit', 'type', 'order']);
const INTEGER = /^\d{1,15}$/;
const TYPE = /^[a-z0-9_.-]{1,64}$/;

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
 * The audit ledger's admin endpoints (guarded by {@link AdminGuard}):
 * - `GET /admin/audit?after=<seq>|before=<seq>&limit=<1..500>&type=<type>&order=asc|desc`: one page of entries.
 *   Without a cursor, the newest entries first; `after` pages oldest first from a seq, `before` newest first below one.
 *   The answer's `next` is the query for the following page (`null` at the end).
 * - `GET /admin/ledger/verify`: verifies the whole chain (rotated files, checkpoint signatures with the configured
 *   key). 200 with the result when intact; 409 `ledger_broken` with the result in `details` (first bad seq, file, line,
 *   reason) when not, so a monitoring probe fails on a broken ledger the way it fails on any error.
 */
@Controller('admin')
@UseGuards(AdminGuard)
export class LedgerController {
  constructor(private readonly ledger: LedgerService) {}

  @Get('audit')
  audit(@Query() query: Record<string, unknown>): Promise<AuditPage & { lastSeq: number }> {
    return this.ledger.page(parseAuditQuery(query));
  }

  @Get('ledger/verify')
  async verify(): Promise<VerifyOk & { writer: ReturnType<LedgerService['status']> }> {
    const result = await this.ledger.verify();
    if (!result.ok) throw new LedgerBrokenError(result);
    return { ...result, writer: this.ledger.status() };
  }
}
