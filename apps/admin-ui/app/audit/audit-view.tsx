'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { Empty, ErrorNotice, PageHeader, Time } from '../components/status';
import { api, useResource } from '../lib/api';
import { useLiveEvent } from '../lib/live';
import { Can } from '../lib/auth/role-context';
import { ExportForm } from './export-form';
import type {
  AuditEntry,
  AuditFilter,
  AuditView,
  ErrorBody,
  Verification,
  VerifyFailure,
  VerifyOk,
} from '../lib/types';

/** Security event types (docs/ledger.md) (the ledger also writes `audit.*` and `ledger.*` entries of its own). */
const TYPES = [
  'policy.deny',
  'policy.divert',
  'policy.tarpit',
  'ratelimit.denied',
  'auth.failed',
  'tls.reloaded',
  'tls.rejected',
  'policy.reloaded',
  'pool.changed',
  'breaker.transition',
  'admin.action',
  'audit.started',
  'audit.stopped',
  'audit.events_lost',
  'ledger.checkpoint',
] as const;

function query(filter: AuditFilter, before?: number): string {
  const params = new URLSearchParams();
  if (filter.type !== undefined) params.set('type', filter.type);
  if (filter.tenant !== undefined) params.set('tenant', filter.tenant);
  if (filter.corrId !== undefined) params.set('corrId', filter.corrId);
  if (before !== undefined) params.set('before', String(before));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** The tenant an entry concerns, when its data names one. */
function tenantOf(entry: Pick<AuditEntry, 'data'>): string | null {
  const tenant = entry.data?.tenant;
  return typeof tenant === 'string' ? tenant : null;
}

/** A one-line summary of an entry's data, most telling fields first. */
function summary(entry: Pick<AuditEntry, 'data'>): string {
  const data = entry.data ?? {};
  const keys = [
    'event',
    'action',
    'reason',
    'path',
    'pool',
    'backend',
    'from',
    'to',
    'kind',
    'scheme',
    'result',
    'version',
    'error',
  ];
  const parts = keys.filter((k) => data[k] !== undefined && data[k] !== null).map((k) => `${k}=${String(data[k])}`);
  const text = parts.length > 0 ? parts.join(' ') : JSON.stringify(data).slice(0, 120);
  const person = byWhom(data.user);
  return person === undefined ? text : `${text} — by ${person}`;
}

/** The person an admin entry was made for (`data.user`): `email (role)`, or the subject when there is no email. */
function byWhom(user: unknown): string | undefined {
  if (typeof user !== 'object' || user === null) return undefined;
  const { email, sub, role } = user as Record<string, unknown>;
  const name = typeof email === 'string' ? email : typeof sub === 'string' ? sub : undefined;
  return name === undefined ? undefined : typeof role === 'string' ? `${name} (${role})` : name;
}

/** An entry's type as a badge; refusals stand out. */
function TypeBadge({ type }: { type: string }) {
  const bad = type.startsWith('policy.deny') || type === 'auth.failed';
  return <span className={`badge badge-type ${bad ? 'badge-bad' : ''}`}>{type}</span>;
}

/**
 * The cells every audit table ends with: type, tenant, correlation id, and the details (a summary that opens on the
 * whole entry as JSON).
 */
export function EntryCells({ entry }: { entry: Pick<AuditEntry, 'type' | 'corrId' | 'data'> }) {
  return (
    <>
      <td>
        <TypeBadge type={entry.type} />
      </td>
      <td>{tenantOf(entry) ?? '—'}</td>
      <td className="mono">{entry.corrId ?? '—'}</td>
      <td>
        <details>
          <summary>{summary(entry)}</summary>
          <pre>{JSON.stringify(entry, null, 2)}</pre>
        </details>
      </td>
    </>
  );
}

/** The column headings of {@link EntryCells}. */
export function EntryHeadings() {
  return (
    <>
      <th scope="col">Type</th>
      <th scope="col">Tenant</th>
      <th scope="col">Correlation id</th>
      <th scope="col">Details</th>
    </>
  );
}

/** The audit page: filters, the table with paging, and the chain verification; the first page follows new entries. */
export function AuditTable({
  filter,
  initial,
  initialError,
  verification,
}: {
  filter: AuditFilter;
  initial: AuditView | undefined;
  initialError: ErrorBody | undefined;
  verification: Verification;
}) {
  const router = useRouter();
  const audit = useResource<AuditView>(`/api/audit${query(filter, filter.before)}`, initial, initialError);
  const [verified, setVerified] = useState<Verification>(verification);
  const [verifying, setVerifying] = useState(false);
  useLiveEvent(['audit'], () => {
    if (filter.before === undefined) audit.refresh();
  });

  const applyFilter = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (key: string) => {
      const value = form.get(key);
      return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
    };
    router.push(`/audit${query({ type: text('type'), tenant: text('tenant'), corrId: text('corrId') })}`);
  };

  const verifyAgain = async () => {
    setVerifying(true);
    const result = await api<VerifyOk>('/api/admin/ledger/verify');
    setVerifying(false);
    if (result.ok) setVerified({ state: 'ok', result: result.data });
    else if (result.error.error === 'ledger_broken' && typeof result.error.details === 'object') {
      setVerified({ state: 'broken', result: result.error.details as VerifyFailure, message: result.error.message });
    } else setVerified({ state: 'error', error: result.error });
  };

  const view = audit.data;
  return (
    <section>
      <PageHeader title="Audit">
        <span className="muted">This instance&apos;s ledger</span> <Link href="/audit/cluster">All instances</Link>
      </PageHeader>
      <div className="card" data-testid="verification">
        <div className="card-header">
          <h2>Chain verification</h2>
          <button type="button" onClick={() => void verifyAgain()} disabled={verifying}>
            {verifying ? 'Verifying…' : 'Verify again'}
          </button>
        </div>
        <div aria-live="polite">
          {verified.state === 'ok' ? (
            <p className="notice notice-ok" data-testid="chain-status">
              Chain intact: {verified.result.entries} entries verified (seq {verified.result.firstSeq}–
              {verified.result.lastSeq}
              {verified.result.checkpoints > 0
                ? `, ${verified.result.checkpoints} checkpoints${verified.result.signaturesChecked ? ' with signatures checked' : ''}`
                : ''}
              ).
            </p>
          ) : verified.state === 'broken' ? (
            <p className="notice notice-error" role="alert" data-testid="chain-status">
              Chain broken{verified.result.seq === null ? '' : ` at seq ${verified.result.seq}`}:{' '}
              {verified.result.reason}. {verified.result.message} ({verified.result.entriesVerified} entries verified
              before it)
            </p>
          ) : (
            <ErrorNotice error={verified.error} title="The ledger could not be verified" />
          )}
        </div>
      </div>

      <Can role="admin">
        <ExportForm />
      </Can>

      <form className="filters card" onSubmit={applyFilter} role="search" aria-label="Filter audit entries">
        <label>
          Type
          <select name="type" defaultValue={filter.type ?? ''}>
            <option value="">any</option>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label>
          Tenant
          <input name="tenant" defaultValue={filter.tenant ?? ''} pattern="[A-Za-z0-9._\-]{1,128}" autoComplete="off" />
        </label>
        <label>
          Correlation id
          <input
            name="corrId"
            defaultValue={filter.corrId ?? ''}
            pattern="[A-Za-z0-9._:\-]{1,128}"
            autoComplete="off"
          />
        </label>
        <div className="filter-actions">
          <button type="submit" className="primary">
            Apply filters
          </button>
          <Link href="/audit">Clear</Link>
        </div>
      </form>

      {audit.error === undefined ? null : <ErrorNotice error={audit.error} />}
      {view === undefined && audit.error === undefined ? <p role="status">Loading entries…</p> : null}
      {view !== undefined ? (
        <div className="card">
          <div className="card-header">
            <h2>
              Entries{' '}
              <span className="muted">
                {filter.before === undefined ? 'newest first' : `older than seq ${filter.before}`}, ledger at seq{' '}
                {view.lastSeq}
              </span>
            </h2>
          </div>
          {view.entries.length === 0 ? (
            <Empty>
              No entries match{view.truncated ? ` in the ${view.scanned} entries read; older ones may` : ''}.
            </Empty>
          ) : (
            <div className="table-wrap">
              <table data-testid="audit-table">
                <caption className="sr-only">Audit ledger entries</caption>
                <thead>
                  <tr>
                    <th scope="col" className="num">
                      Seq
                    </th>
                    <th scope="col">Time</th>
                    <EntryHeadings />
                  </tr>
                </thead>
                <tbody>
                  {view.entries.map((entry) => (
                    <tr key={entry.seq} data-type={entry.type}>
                      <td className="num">{entry.seq}</td>
                      <td>
                        <Time iso={entry.ts} />
                      </td>
                      <EntryCells entry={entry} />
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <nav className="pager" aria-label="Audit pages">
            {filter.before === undefined ? null : <Link href={`/audit${query(filter)}`}>Newest entries</Link>}
            {view.nextBefore === null ? (
              <span className="muted">{view.entries.length === 0 ? '' : 'Oldest entry reached'}</span>
            ) : (
              <Link href={`/audit${query(filter, view.nextBefore)}`}>Older entries</Link>
            )}
          </nav>
        </div>
      ) : null}
    </section>
  );
}
