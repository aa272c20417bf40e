'use client';

import { useState } from 'react';
import { ErrorNotice, PageHeader, Time } from '../components/status';
import { api, useResource } from '../lib/api';
import { useLiveEvent } from '../lib/live';
import type { ErrorBody, PolicyStatus, ReloadAnswer } from '../lib/types';

/** The policy page, re-read on reload events and every second (the cache figures move with traffic). */
export function PolicyView({ initial, initialError }: { initial: PolicyStatus | undefined; initialError?: ErrorBody }) {
  const policy = useResource<PolicyStatus>('/api/admin/policy', initial, initialError);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | undefined>();
  useLiveEvent(['policy', 'metrics'], policy.refresh);

  const reload = async () => {
    setBusy(true);
    const result = await api<ReloadAnswer>('/api/admin/policy/reload', { method: 'POST' });
    setBusy(false);
    if (!result.ok) setOutcome({ ok: false, text: `Reload failed: ${result.error.message}` });
    else if (result.data.reloaded) setOutcome({ ok: true, text: `Reloaded: now version ${result.data.version}.` });
    else
      setOutcome({
        ok: false,
        text: `Rejected, version ${result.data.version} keeps serving: ${result.data.error ?? 'unknown error'}`,
      });
    policy.refresh();
  };

  const status = policy.data;
  const lookups = status === undefined ? 0 : status.cache.hits + status.cache.misses;
  return (
    <section>
      <PageHeader title="Policy">
        <button type="button" className="primary" onClick={() => void reload()} disabled={busy}>
          {busy ? 'Reloading…' : 'Reload policy'}
        </button>
      </PageHeader>
      <div aria-live="polite">
        {outcome === undefined ? null : (
          <p className={`notice ${outcome.ok ? 'notice-ok' : 'notice-error'}`} data-testid="reload-outcome">
            {outcome.text}
          </p>
        )}
      </div>
      {policy.error === undefined ? null : <ErrorNotice error={policy.error} />}
      {status === undefined && policy.error === undefined ? <p role="status">Loading policy status…</p> : null}
      {status === undefined ? null : (
        <div className="grid-2">
          <div className="card">
            <h2>Running policy</h2>
            <dl className="facts">
              <dt>Version</dt>
              <dd data-testid="policy-version">{status.version}</dd>
              <dt>Source</dt>
              <dd className="mono">{status.source}</dd>
              <dt>Engine</dt>
              <dd>
                {status.opaLoaded
                  ? `OPA (${status.enforce ? 'enforcing' : 'shadow mode'}) with base rules`
                  : 'base rules'}
              </dd>
              <dt>Last reload</dt>
              <dd>
                <Time iso={status.lastReload} />
              </dd>
              <dt>Last error</dt>
              <dd className={status.lastError === null ? 'muted' : 'bad'}>{status.lastError ?? 'none'}</dd>
            </dl>
          </div>
          <div className="card">
            <h2>Decision cache</h2>
            <dl className="facts">
              <dt>Entries</dt>
              <dd>{status.cache.size}</dd>
              <dt>Hits</dt>
              <dd>{status.cache.hits}</dd>
              <dt>Misses</dt>
              <dd>{status.cache.misses}</dd>
              <dt>Hit rate</dt>
              <dd>{lookups === 0 ? '—' : `${((status.cache.hits / lookups) * 100).toFixed(1)} %`}</dd>
            </dl>
          </div>
        </div>
      )}
    </section>
  );
}
