'use client';

import { useState } from 'react';
import { Empty, ErrorNotice, PageHeader, Time } from '../components/status';
import { api, useResource } from '../lib/api';
import { Can } from '../lib/auth/role-context';
import { useLiveEvent } from '../lib/live';
import type { ErrorBody, RolloutSide, RolloutsAnswer } from '../lib/types';

/** A rollout as listed; its phase is `preview` (the new set gets copies of safe requests only) or `traffic`. */
type Rollout = RolloutsAnswer['rollouts'][number];
type Action = 'pause' | 'resume' | 'promote' | 'abort';

/** The actions a rollout in `state` offers. */
function actionsOf(state: Rollout['state']): Action[] {
  if (state === 'running') return ['pause', 'promote', 'abort'];
  if (state === 'paused') return ['resume', 'promote', 'abort'];
  return [];
}

/** What the phase means for clients, in a few words. */
function phaseOf(rollout: Rollout): string {
  const live = rollout.state === 'running' || rollout.state === 'paused';
  if (rollout.phase === 'preview') {
    const methods = rollout.previewMethods.join(', ');
    return live
      ? `preview: the canary gets copies of ${methods} requests, no client traffic`
      : 'ended in its preview: no client request reached the canary';
  }
  return rollout.preview === true ? 'preview passed; clients are split' : 'clients are split';
}

function side(figures: RolloutSide): string {
  const p99 = figures.p99Ms === null ? '—' : `${figures.p99Ms} ms`;
  return `${figures.requests} requests, ${(figures.errorRate * 100).toFixed(1)} % errors, p99 ${p99}`;
}

/** The rollouts page, re-read with every metrics tick (about once a second). */
export function RolloutsView({
  initial,
  initialError,
}: {
  initial: RolloutsAnswer | undefined;
  initialError?: ErrorBody;
}) {
  const rollouts = useResource<RolloutsAnswer>('/api/admin/rollouts', initial, initialError);
  useLiveEvent(['metrics'], rollouts.refresh);
  const [busy, setBusy] = useState<string | null>(null);
  const [failure, setFailure] = useState<ErrorBody | null>(null);
  const act = async (pool: string, action: Action) => {
    setBusy(`${pool}/${action}`);
    setFailure(null);
    const result = await api(`/api/admin/rollouts/${pool}/${action}`, { method: 'POST' });
    setBusy(null);
    if (!result.ok) setFailure(result.error);
    rollouts.refresh();
  };
  const data = rollouts.data;
  const listed = data?.rollouts ?? [];
  return (
    <section>
      <PageHeader title="Rollouts" />
      {rollouts.error === undefined ? null : <ErrorNotice error={rollouts.error} />}
      {failure === null ? null : <ErrorNotice error={failure} title="The action failed" />}
      {data === undefined && rollouts.error === undefined ? <p role="status">Loading…</p> : null}
      {data !== undefined && data.rollouts.length === 0 ? (
        <div className="card">
          <Empty>No rollout (PUT /admin/rollouts/&lt;pool&gt; starts one).</Empty>
        </div>
      ) : null}
      {listed.map((rollout) => (
        <div
          className="card"
          key={rollout.pool}
          data-testid={`rollout-${rollout.pool}`}
          data-state={rollout.state}
          data-phase={rollout.phase}
        >
          <h2>
            <span className="mono">{rollout.pool}</span>: {rollout.state.replace('_', ' ')}, canary at {rollout.percent}{' '}
            % (step {rollout.step + 1} of {rollout.steps.length}: {rollout.steps.join(' → ')} %)
          </h2>
          <p data-testid="rollout-phase">
            <strong>Phase:</strong> {phaseOf(rollout)}
          </p>
          <p className="muted">
            Limits: errors ≤ {(rollout.maxErrorRate * 100).toFixed(1)} %, p99 ≤ {rollout.maxP99Ratio}× stable, at least{' '}
            {rollout.minRequests} requests per interval of {rollout.intervalMs / 1000} s
            {rollout.sticky ? ', sticky by key' : ''}
            {rollout.nextDecisionInMs === null
              ? ''
              : `; next decision in ${Math.ceil(rollout.nextDecisionInMs / 1000)} s`}
            .
          </p>
          <p data-testid="rollout-window">
            This interval{rollout.phase === 'preview' ? ' (the same requests on both)' : ''} — stable:{' '}
            {side(rollout.window.stable)}; canary: {side(rollout.window.canary)}.
          </p>
          <p className="muted">
            Stable <span className="mono">{rollout.stableUrls.join(', ')}</span>; canary{' '}
            <span className="mono">{rollout.canaryUrls.join(', ')}</span>
          </p>
          <Can role="operator">
            <div className="filter-actions">
              {actionsOf(rollout.state).map((action) => (
                <button
                  key={action}
                  type="button"
                  className={action === 'abort' ? 'danger' : action === 'promote' ? 'primary' : undefined}
                  disabled={busy !== null}
                  onClick={() => void act(rollout.pool, action)}
                >
                  {action[0].toUpperCase() + action.slice(1)}
                </button>
              ))}
            </div>
          </Can>
          {rollout.history.length === 0 ? null : (
            <div className="table-wrap">
              <table data-testid="rollout-history">
                <caption className="sr-only">Transitions of the rollout of {rollout.pool}, most recent first</caption>
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Change</th>
                    <th scope="col" className="num">
                      Canary %
                    </th>
                    <th scope="col">Why</th>
                  </tr>
                </thead>
                <tbody>
                  {[...rollout.history].reverse().map((entry, i) => (
                    <tr key={`${entry.at} ${i}`}>
                      <td>
                        <Time iso={new Date(entry.at).toISOString()} />
                      </td>
                      <td>{entry.kind.replace('_', ' ')}</td>
                      <td className="num">
                        {entry.fromPercent} → {entry.toPercent}
                      </td>
                      <td>{entry.reason}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      ))}
    </section>
  );
}
