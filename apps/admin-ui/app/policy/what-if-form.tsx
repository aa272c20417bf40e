'use client';

import { useState, type FormEvent } from 'react';
import { api } from '../lib/api';
import type { DecisionView, EvaluateAnswer } from '../lib/policy-types';
import type { ErrorBody } from '../lib/types';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** The messages of a refused input: one per field problem of a 400, else the error's message. */
function problems(error: ErrorBody): string[] {
  const details = error.details;
  if (Array.isArray(details)) {
    const lines = details.flatMap((item) => {
      const messages = (item as { messages?: unknown }).messages;
      return Array.isArray(messages) ? messages.map(String) : [];
    });
    if (lines.length > 0) return lines;
  }
  return [error.message];
}

function Verdict({ label, decision, testId }: { label: string; decision: DecisionView | null; testId: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd data-testid={testId}>
        {decision === null ? (
          <span className="muted">no candidate</span>
        ) : (
          <>
            <strong>{decision.action}</strong>
            {decision.divertTo === undefined ? '' : ` to ${decision.divertTo}`}
            {decision.tarpitMs === undefined ? '' : ` for ${decision.tarpitMs} ms`}
            {decision.reason === undefined || decision.reason === null ? '' : ` — ${decision.reason}`}
          </>
        )}
      </dd>
    </>
  );
}

/**
 * What-if: puts one input to the active and the candidate policy (`POST /admin/policy/evaluate`) without routing
 * anything. Empty optional fields are left out, so the orchestrator's defaults apply.
 */
export function WhatIfForm() {
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<EvaluateAnswer | undefined>();
  const [refused, setRefused] = useState<string[] | undefined>();

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => {
      const value = form.get(name);
      return typeof value === 'string' ? value.trim() : '';
    };
    const body: Record<string, unknown> = {
      service: text('service'),
      tenant: text('tenant'),
      scope: text('scope'),
      path: text('path'),
      method: text('method'),
    };
    if (text('ip') !== '') body.ip = text('ip');
    if (text('threatScore') !== '') body.threatScore = Number(text('threatScore'));
    if (text('userAgent') !== '') body.userAgent = text('userAgent');
    setBusy(true);
    const result = await api<EvaluateAnswer>('/api/admin/policy/evaluate', { method: 'POST', body });
    setBusy(false);
    if (result.ok) {
      setAnswer(result.data);
      setRefused(undefined);
    } else {
      setAnswer(undefined);
      setRefused(problems(result.error));
    }
  };

  return (
    <div className="card">
      <h2>What if…</h2>
      <p className="muted">
        Asks the active and the candidate policy about one request, without routing it. Each question is audited.
      </p>
      <form className="filters" aria-label="What-if policy input" onSubmit={(event) => void submit(event)}>
        <label>
          Service
          <input name="service" defaultValue="api" required />
        </label>
        <label>
          Tenant
          <input name="tenant" required data-testid="whatif-tenant" />
        </label>
        <label>
          Scope
          <input name="scope" defaultValue="read" required />
        </label>
        <label>
          Path
          <input name="path" defaultValue="/" required data-testid="whatif-path" />
        </label>
        <label>
          Method
          <select name="method" defaultValue="GET">
            {METHODS.map((method) => (
              <option key={method}>{method}</option>
            ))}
          </select>
        </label>
        <label>
          Client IP <span className="muted">(optional)</span>
          <input name="ip" inputMode="decimal" />
        </label>
        <label>
          Threat score <span className="muted">(0–100, optional)</span>
          <input name="threatScore" inputMode="numeric" data-testid="whatif-threat" />
        </label>
        <label>
          User agent <span className="muted">(optional)</span>
          <input name="userAgent" />
        </label>
        <div className="filter-actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Evaluating…' : 'Evaluate'}
          </button>
        </div>
      </form>
      <div aria-live="polite">
        {refused === undefined ? null : (
          <div className="notice notice-error" role="alert" data-testid="whatif-error">
            <strong>Refused.</strong>
            <ul>
              {refused.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          </div>
        )}
        {answer === undefined ? null : (
          <dl className="facts" data-testid="whatif-result">
            <Verdict label="Active policy" decision={answer.active} testId="whatif-active" />
            <Verdict label="Candidate" decision={answer.candidate} testId="whatif-candidate" />
            <dt>Verdict</dt>
            <dd className={answer.differ ? 'bad' : undefined}>
              {answer.candidate === null ? '—' : answer.differ ? 'they differ' : 'they agree'}
            </dd>
          </dl>
        )}
      </div>
    </div>
  );
}
