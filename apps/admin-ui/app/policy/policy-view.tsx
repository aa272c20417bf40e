'use client';

import { useState } from 'react';
import { ErrorNotice, PageHeader, Time } from '../components/status';
import { api, useResource } from '../lib/api';
import { Can } from '../lib/auth/role-context';
import { useLiveEvent } from '../lib/live';
import type { PromoteAnswer, RulesAnswer, ShadowAnswer } from '../lib/policy-types';
import type { ErrorBody, PolicyStatus, ReloadAnswer } from '../lib/types';
import { DecisionsCard } from './decisions-card';
import { PolicyRulesView } from './policy-rules';
import { ShadowCard } from './shadow-card';
import { WhatIfForm } from './what-if-form';

/**
 * The policy page: the running policy and its rules, decisions per action and the tenants and paths denied most, the
 * candidate policy against the active one, and a what-if form. Re-read on policy events and every second.
 */
export function PolicyView({ initial, initialError }: { initial: PolicyStatus | undefined; initialError?: ErrorBody }) {
  const policy = useResource<PolicyStatus>('/api/admin/policy', initial, initialError);
  const rules = useResource<RulesAnswer>('/api/admin/policy/rules', undefined);
  const shadow = useResource<ShadowAnswer>('/api/admin/policy/shadow', undefined);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | undefined>();
  useLiveEvent(['policy', 'metrics'], policy.refresh);
  useLiveEvent(['metrics'], shadow.refresh);
  useLiveEvent(['policy'], () => {
    rules.refresh();
    shadow.refresh();
  });

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

  const promote = async () => {
    if (!window.confirm('Make the candidate policy the active one on this instance?')) return;
    setBusy(true);
    const result = await api<PromoteAnswer>('/api/admin/policy/promote', { method: 'POST' });
    setBusy(false);
    setOutcome(
      result.ok
        ? { ok: true, text: `Promoted: now version ${result.data.version} (${result.data.source}).` }
        : { ok: false, text: `Promotion refused: ${result.error.message}` },
    );
    policy.refresh();
    rules.refresh();
    shadow.refresh();
  };

  const status = policy.data;
  const lookups = status === undefined ? 0 : status.cache.hits + status.cache.misses;
  return (
    <section>
      <PageHeader title="Policy">
        <Can role="operator">
          <button type="button" className="primary" onClick={() => void reload()} disabled={busy}>
            {busy ? 'Reloading…' : 'Reload policy'}
          </button>
        </Can>
        {shadow.data?.candidate.state === 'loaded' ? (
          <Can role="admin">
            <button type="button" className="danger" onClick={() => void promote()} disabled={busy}>
              Promote candidate
            </button>
          </Can>
        ) : null}
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
      <DecisionsCard />
      {shadow.error === undefined ? null : <ErrorNotice error={shadow.error} title="The candidate could not be read" />}
      {shadow.data === undefined ? null : <ShadowCard shadow={shadow.data} />}
      <WhatIfForm />
      {rules.error === undefined ? null : <ErrorNotice error={rules.error} title="The rules could not be read" />}
      {rules.data === undefined ? null : (
        <div className="card">
          <h2>Active rules</h2>
          <PolicyRulesView rules={rules.data.active} testId="active-rules" />
          {rules.data.candidate === null ? null : (
            <>
              <h2>Candidate rules</h2>
              <PolicyRulesView rules={rules.data.candidate} testId="candidate-rules" />
            </>
          )}
        </div>
      )}
    </section>
  );
}
