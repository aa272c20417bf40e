'use client';

import { BreakerBadge, Empty, ErrorNotice, PageHeader, Time } from '../components/status';
import { useResource } from '../lib/api';
import { useLiveEvent } from '../lib/live';
import type { ErrorBody, ProtectionAnswer } from '../lib/types';

/** How a score reads: the same bands as the examples of docs/advisors.md. */
function band(score: number): string {
  if (score > 80) return 'hostile';
  if (score > 50) return 'doubtful';
  return 'low';
}

/** The protection page, re-read with every metrics tick (about once a second). */
export function ProtectionView({
  initial,
  initialError,
}: {
  initial: ProtectionAnswer | undefined;
  initialError?: ErrorBody;
}) {
  const protection = useResource<ProtectionAnswer>('/api/admin/protection', initial, initialError);
  useLiveEvent(['metrics'], protection.refresh);
  const data = protection.data;
  return (
    <section>
      <PageHeader title="Protection" />
      {protection.error === undefined ? null : <ErrorNotice error={protection.error} />}
      {data === undefined && protection.error === undefined ? <p role="status">Loading…</p> : null}
      {data !== undefined ? (
        <>
          <div className="card">
            <h2>Adaptive limits</h2>
            {data.adaptive.mode === 'off' ? (
              <Empty>Adaptive rate limiting is off (ORCH_ADAPTIVE).</Empty>
            ) : data.adaptive.tightened.length === 0 ? (
              <Empty>
                No client IP or tenant is tightened now (mode <span className="mono">{data.adaptive.mode}</span>).
              </Empty>
            ) : (
              <div className="table-wrap">
                <table data-testid="adaptive-table">
                  <caption className="sr-only">
                    Keys tightened or recovering now, mode {data.adaptive.mode}; rates in requests per second
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">Key</th>
                      <th scope="col">Instance</th>
                      <th scope="col">Phase</th>
                      <th scope="col" className="num">
                        Baseline/s
                      </th>
                      <th scope="col" className="num">
                        Now/s
                      </th>
                      <th scope="col" className="num">
                        Factor
                      </th>
                      <th scope="col">Since</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.adaptive.tightened.map((entry) => (
                      <tr key={`${entry.instance} ${entry.key}`} data-phase={entry.phase}>
                        <td className="mono">{entry.key}</td>
                        <td className="mono">{entry.instance}</td>
                        <td>{entry.phase}</td>
                        <td className="num">{entry.baselineRate}</td>
                        <td className="num">{entry.currentRate}</td>
                        <td className="num">{entry.factor}</td>
                        <td>
                          <Time iso={entry.since} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>
          <div className="card">
            <h2>Threat scores</h2>
            {!data.threat.enabled ? (
              <Empty>No threat-score service is configured (ORCH_THREAT_URL).</Empty>
            ) : (
              <>
                <p className="muted" data-testid="threat-summary">
                  Service breaker <BreakerBadge state={data.threat.breaker} />, without an answer:{' '}
                  <span className="mono">{data.threat.onError}</span>
                </p>
                {data.threat.recent.length === 0 ? (
                  <Empty>No client has been scored yet.</Empty>
                ) : (
                  <div className="table-wrap">
                    <table data-testid="threat-table">
                      <caption className="sr-only">Threat scores of recent clients, most recent first</caption>
                      <thead>
                        <tr>
                          <th scope="col">Client IP</th>
                          <th scope="col" className="num">
                            Score
                          </th>
                          <th scope="col">Band</th>
                          <th scope="col">Reasons</th>
                          <th scope="col">Scored at</th>
                        </tr>
                      </thead>
                      <tbody>
                        {data.threat.recent.map((entry) => (
                          <tr key={entry.ip} data-band={band(entry.score)}>
                            <td className="mono">{entry.ip}</td>
                            <td className="num">{entry.score}</td>
                            <td>{band(entry.score)}</td>
                            <td>{entry.reasons.length === 0 ? '—' : entry.reasons.join(', ')}</td>
                            <td>
                              <Time iso={entry.fetchedAt} />
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </>
            )}
          </div>
          <div className="card">
            <h2>Quotas</h2>
            {!data.quota.enabled ? (
              <Empty>No quota service is configured (ORCH_QUOTA_URL).</Empty>
            ) : (
              <p data-testid="quota-summary">
                Service breaker <BreakerBadge state={data.quota.breaker} />; charged scopes:{' '}
                <span className="mono">{data.quota.scopes.length === 0 ? 'none' : data.quota.scopes.join(', ')}</span>{' '}
                (and decisions that carry a cost); without an answer: <span className="mono">{data.quota.onError}</span>
              </p>
            )}
          </div>
        </>
      ) : null}
    </section>
  );
}
