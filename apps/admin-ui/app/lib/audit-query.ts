import { adminFetch } from './admin-client';
import type { AuditEntry, AuditFilter, AuditPage, AuditView } from './types';

/** Entries per page of the audit table. */
export const AUDIT_PAGE_SIZE = 50;
/** Ledger entries asked for per upstream page while filtering by tenant or correlation id. */
const SCAN_PAGE = 500;
/** Most ledger entries one filtered page reads before it stops and offers to go on. */
const SCAN_BUDGET = 10_000;

const TYPE = /^[a-z0-9_.-]{1,64}$/;
const TENANT = /^[A-Za-z0-9._-]{1,128}$/;
const CORR_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Reads the filter from query parameters, dropping what could not be valid (the form says so before). */
export function readFilter(params: URLSearchParams | Record<string, string | string[] | undefined>): AuditFilter {
  const get = (key: string): string | undefined => {
    const value = params instanceof URLSearchParams ? params.get(key) : params[key];
    const single = Array.isArray(value) ? value[0] : value;
    return single === undefined || single === null || single.trim() === '' ? undefined : single.trim();
  };
  const type = get('type');
  const tenant = get('tenant');
  const corrId = get('corrId');
  const before = Number(get('before'));
  return {
    type: type !== undefined && TYPE.test(type) ? type : undefined,
    tenant: tenant !== undefined && TENANT.test(tenant) ? tenant : undefined,
    corrId: corrId !== undefined && CORR_ID.test(corrId) ? corrId : undefined,
    before: Number.isInteger(before) && before > 0 ? before : undefined,
  };
}

function matches(entry: AuditEntry, filter: AuditFilter): boolean {
  if (filter.corrId !== undefined && entry.corrId !== filter.corrId) return false;
  if (filter.tenant !== undefined) {
    const tenant = entry.data?.tenant;
    if (tenant !== filter.tenant) return false;
  }
  return true;
}

/** The error of an admin call that did not answer 200, as thrown by {@link queryAudit}. */
export class AdminCallError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error: string; message: string },
  ) {
    super(body.message);
  }
}

/**
 * One page of the audit table, newest first: the ledger's own type filter and cursor, plus the tenant and correlation
 * id matched here (the orchestrator's audit API pages by seq and type). A filtered page reads upstream pages of 500
 * until it has {@link AUDIT_PAGE_SIZE} matches, the ledger's start, or {@link SCAN_BUDGET} entries.
 */
export async function queryAudit(filter: AuditFilter): Promise<AuditView> {
  const filtering = filter.tenant !== undefined || filter.corrId !== undefined;
  const entries: AuditEntry[] = [];
  let before = filter.before;
  let scanned = 0;
  let lastSeq = 0;
  for (;;) {
    const query = new URLSearchParams({ order: 'desc', limit: String(filtering ? SCAN_PAGE : AUDIT_PAGE_SIZE) });
    if (filter.type !== undefined) query.set('type', filter.type);
    if (before !== undefined) query.set('before', String(before));
    const response = await adminFetch(`/admin/audit?${query.toString()}`, { timeoutMs: 10_000 });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      throw new AdminCallError(response.status, {
        error: typeof body.error === 'string' ? body.error : `http_${response.status}`,
        message: typeof body.message === 'string' ? body.message : `the orchestrator answered ${response.status}`,
      });
    }
    const page = body as unknown as AuditPage;
    lastSeq = page.lastSeq;
    for (const entry of page.entries) {
      scanned++;
      if (!matches(entry, filter)) continue;
      entries.push(entry);
      if (entries.length === AUDIT_PAGE_SIZE) {
        return { entries, nextBefore: entry.seq > 1 ? entry.seq : null, scanned, truncated: false, lastSeq };
      }
    }
    const next = page.next !== null && 'before' in page.next ? page.next.before : null;
    if (next === null) return { entries, nextBefore: null, scanned, truncated: false, lastSeq };
    if (!filtering || scanned >= SCAN_BUDGET) {
      return { entries, nextBefore: next, scanned, truncated: filtering, lastSeq };
    }
    before = next;
  }
}
