'use client';

import { Empty, ErrorNotice, PageHeader, Time } from '../components/status';
import { useResource } from '../lib/api';
import { useLiveEvent } from '../lib/live';
import type { ErrorBody, MirrorAnswer } from '../lib/types';

function ms(value: number | null): string {
  return value === null ? '—' : `${value} ms`;
}

/** The mirroring page, re-read with every metrics tick (about once a second). */
export function MirrorView({ initial, initialError }: { initial: MirrorAnswer | undefined; initialError?: ErrorBody }) {
  const mirror = useResource<MirrorAnswer>('/api/admin/mirror', initial, initialError);
  useLiveEvent(['metrics'], mirror.refresh);
  const data = mirror.data;
  return (
    <section>
      <PageHeader title="Mirroring" />
      {mirror.error === undefined ? null : <ErrorNotice error={mirror.error} />}
      {data === undefined && mirror.error === undefined ? <p role="status">Loading…</p> : null}
      {data !== undefined && data.mirrors.length === 0 ? (
        <div className="card">
          <Empty>No pool is mirrored (ORCH_MIRROR_&lt;POOL&gt;=&lt;shadow pool&gt;:&lt;percent&gt;).</Empty>
        </div>
      ) : null}
      {data?.mirrors.map((entry) => {
        const { results } = entry;
        const compared = results.same_status + results.different_status;
        return (
          <div className="card" key={entry.pool} data-testid={`mirror-${entry.pool}`}>
            <h2>
              <span className="mono">{entry.pool}</span> → <span className="mono">{entry.shadow}</span> ({entry.percent}{' '}
              %)
            </h2>
            <p className="muted" data-testid="mirror-summary">
              {compared} compared: {results.same_status} same status, {results.different_status} different;{' '}
              {results.shadow_error} shadow errors; skipped: {results.skipped_body} body too large,{' '}
              {results.skipped_busy} too many in flight, {results.skipped_no_backend} no shadow backend;{' '}
              {results.primary_failed} real requests failed. Time to head: p50 {ms(entry.latency.p50)} vs{' '}
              {ms(entry.latency.shadowP50)} (shadow), p99 {ms(entry.latency.p99)} vs {ms(entry.latency.shadowP99)}.
            </p>
            {entry.recentDifferences.length === 0 ? (
              <Empty>No status difference yet.</Empty>
            ) : (
              <div className="table-wrap">
                <table data-testid="mirror-differences">
                  <caption className="sr-only">Recent status differences, most recent first</caption>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Request</th>
                      <th scope="col" className="num">
                        Status
                      </th>
                      <th scope="col" className="num">
                        Shadow
                      </th>
                      <th scope="col" className="num">
                        ms
                      </th>
                      <th scope="col" className="num">
                        Shadow ms
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {entry.recentDifferences.map((difference, i) => (
                      <tr key={`${difference.at} ${i}`}>
                        <td>
                          <Time iso={difference.at} />
                        </td>
                        <td className="mono">
                          {difference.method} {difference.path}
                        </td>
                        <td className="num">{difference.status}</td>
                        <td className="num">{difference.shadowStatus}</td>
                        <td className="num">{difference.ms}</td>
                        <td className="num">{difference.shadowMs}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>
        );
      })}
    </section>
  );
}
