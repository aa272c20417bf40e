'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { Empty, ErrorNotice, PageHeader, Time } from '../../components/status';
import { useLiveEvent } from '../../lib/live';
import type { ErrorBody, StreamAuditPage } from '../../lib/types';
import { EntryCells, EntryHeadings } from '../audit-view';

/** The shared audit stream as a table, newest first, paged by stream id; the first page follows new entries. */
export function ClusterAuditTable({
  before,
  standalone,
  instance,
  page,
  error,
}: {
  before: string | undefined;
  /** True when the orchestrator runs without Redis: there is no shared stream. */
  standalone: boolean;
  /** The id of the instance the UI talks to. */
  instance?: string;
  page?: StreamAuditPage;
  error?: ErrorBody;
}) {
  const router = useRouter();
  useLiveEvent(['audit'], () => {
    if (before === undefined && !standalone) router.refresh();
  });
  const next = page?.next?.before ?? null;
  return (
    <section>
      <PageHeader title="Audit: all instances">
        <Link href="/audit">This instance&apos;s ledger</Link>
      </PageHeader>
      {standalone ? (
        <p className="notice" data-testid="cluster-standalone">
          This orchestrator runs alone (no <code>REDIS_ADDR</code>), so there is no shared audit stream: its own ledger
          is on the <Link href="/audit">Audit</Link> page.
        </p>
      ) : error !== undefined ? (
        <ErrorNotice error={error} title="The shared audit stream could not be read" />
      ) : page !== undefined ? (
        <div className="card">
          <div className="card-header">
            <h2>
              Entries{' '}
              <span className="muted">
                {before === undefined ? 'newest first' : `older than ${before}`}, stream {page.stream}, this UI reads
                instance {instance}
              </span>
            </h2>
          </div>
          {page.entries.length === 0 ? (
            <Empty>No entries in the shared stream{before === undefined ? ' yet' : ' before this point'}.</Empty>
          ) : (
            <div className="table-wrap">
              <table data-testid="cluster-audit-table">
                <caption className="sr-only">Audit entries of every instance</caption>
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Instance</th>
                    <th scope="col" className="num">
                      Seq
                    </th>
                    <EntryHeadings />
                  </tr>
                </thead>
                <tbody>
                  {page.entries.map((entry) => (
                    <tr key={entry.id} data-type={entry.type} data-instance={entry.instance}>
                      <td>
                        <Time iso={entry.ts} />
                      </td>
                      <td className="mono">
                        {entry.instance}
                        {entry.instance === instance ? <div className="muted cell-note">this instance</div> : null}
                      </td>
                      <td className="num">{entry.seq}</td>
                      <EntryCells entry={entry} />
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <nav className="pager" aria-label="Audit stream pages">
            {before === undefined ? null : <Link href="/audit/cluster">Newest entries</Link>}
            {next === null ? (
              <span className="muted">{page.entries.length === 0 ? '' : 'Oldest entry reached'}</span>
            ) : (
              <Link href={`/audit/cluster?before=${encodeURIComponent(next)}`}>Older entries</Link>
            )}
          </nav>
        </div>
      ) : null}
    </section>
  );
}
