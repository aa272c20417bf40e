'use client';

import { BreakerBadge, Empty, ErrorNotice, formatDuration, HealthBadge, PageHeader, Time } from '../components/status';
import { useResource } from '../lib/api';
import { useLiveEvent } from '../lib/live';
import type { BreakersAnswer, BreakerView, ErrorBody } from '../lib/types';

function nextTrial(breaker: BreakerView): string {
  switch (breaker.state) {
    case 'open':
      return breaker.nextTrialInMs === 0 ? 'due now' : `in ${formatDuration(breaker.nextTrialInMs ?? 0)}`;
    case 'half_open':
      return breaker.trialInFlight ? 'trial running' : 'next request';
    case 'closed':
      return '—';
    default: {
      const never: never = breaker.state;
      return String(never);
    }
  }
}

/** The breakers page, re-read on every breaker event (at once) and every second (for the countdowns). */
export function BreakersView({
  initial,
  initialError,
}: {
  initial: BreakersAnswer | undefined;
  initialError?: ErrorBody;
}) {
  const breakers = useResource<BreakersAnswer>('/api/admin/breakers', initial, initialError);
  useLiveEvent(['breaker', 'pool', 'metrics'], breakers.refresh);
  const data = breakers.data;
  const open = data?.breakers.filter((b) => b.state !== 'closed').length ?? 0;
  return (
    <section>
      <PageHeader title="Breakers">
        {data === undefined ? null : (
          <span className="muted" data-testid="breakers-summary">
            {open === 0 ? 'all closed' : `${open} not closed`} of {data.breakers.length}
          </span>
        )}
      </PageHeader>
      {breakers.error === undefined ? null : <ErrorNotice error={breakers.error} />}
      {data === undefined && breakers.error === undefined ? <p role="status">Loading breakers…</p> : null}
      {data !== undefined ? (
        <>
          <div className="card">
            <h2>Current state</h2>
            {data.breakers.length === 0 ? (
              <Empty>No backends, so no breakers.</Empty>
            ) : (
              <div className="table-wrap">
                <table data-testid="breakers-table">
                  <caption className="sr-only">Circuit breaker of each backend</caption>
                  <thead>
                    <tr>
                      <th scope="col">Pool</th>
                      <th scope="col">Backend</th>
                      <th scope="col">State</th>
                      <th scope="col">Next trial</th>
                      <th scope="col" className="num">
                        Failures
                      </th>
                      <th scope="col" className="num">
                        Open period
                      </th>
                      <th scope="col">Health</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.breakers.map((b) => (
                      <tr key={`${b.pool} ${b.backend}`} data-state={b.state}>
                        <td>{b.pool}</td>
                        <td className="mono">{b.backend}</td>
                        <td>
                          <BreakerBadge state={b.state} />
                        </td>
                        <td>{nextTrial(b)}</td>
                        <td className="num">{b.failures}</td>
                        <td className="num">{b.openForMs === null ? '—' : formatDuration(b.openForMs)}</td>
                        <td>
                          <HealthBadge healthy={b.healthy} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>
          <div className="card">
            <h2>Transitions</h2>
            {data.history.length === 0 ? (
              <Empty>No breaker has changed state since the orchestrator started.</Empty>
            ) : (
              <div className="table-wrap">
                <table data-testid="transitions-table">
                  <caption className="sr-only">Breaker transitions, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Time</th>
                      <th scope="col">Pool</th>
                      <th scope="col">Backend</th>
                      <th scope="col">From</th>
                      <th scope="col">To</th>
                      <th scope="col" className="num">
                        Open for
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {[...data.history].reverse().map((t, i) => (
                      <tr key={`${t.at} ${t.backend} ${i}`}>
                        <td>
                          <Time iso={t.at} />
                        </td>
                        <td>{t.pool}</td>
                        <td className="mono">{t.backend}</td>
                        <td>
                          <BreakerBadge state={t.from} />
                        </td>
                        <td>
                          <BreakerBadge state={t.to} />
                        </td>
                        <td className="num">{t.openForMs === null ? '—' : formatDuration(t.openForMs)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>
        </>
      ) : null}
    </section>
  );
}
