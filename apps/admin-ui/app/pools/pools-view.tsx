'use client';

import { useId, useState, type FormEvent } from 'react';
import { BreakerBadge, Empty, ErrorNotice, HealthBadge, PageHeader } from '../components/status';
import { api, useResource } from '../lib/api';
import { Can } from '../lib/auth/role-context';
import { useLiveEvent } from '../lib/live';
import type { ErrorBody, PoolView, PoolsAnswer } from '../lib/types';
import { ALGOS, parseLines, POOL_NAME, toLines } from './pool-form';

/** The pools page: one card per pool, refreshed every second and on pool or breaker events. */
export function PoolsView({ initial, initialError }: { initial: PoolsAnswer | undefined; initialError?: ErrorBody }) {
  const pools = useResource<PoolsAnswer>('/api/admin/pools', initial, initialError);
  const [notice, setNotice] = useState<string | undefined>();
  const [adding, setAdding] = useState(false);
  useLiveEvent(['metrics', 'pool', 'breaker'], pools.refresh);

  const saved = (message: string) => {
    setNotice(message);
    pools.refresh();
  };
  return (
    <section>
      <PageHeader title="Pools">
        {pools.data === undefined ? null : (
          <span className="muted">healthy ratio {(pools.data.health_ratio * 100).toFixed(0)} %</span>
        )}
        <Can role="operator">
          <button type="button" onClick={() => setAdding((a) => !a)} aria-expanded={adding}>
            {adding ? 'Cancel new pool' : 'New pool'}
          </button>
        </Can>
      </PageHeader>
      <div aria-live="polite">{notice === undefined ? null : <p className="notice notice-ok">{notice}</p>}</div>
      {pools.error === undefined ? null : <ErrorNotice error={pools.error} />}
      {pools.data === undefined && pools.error === undefined ? <p role="status">Loading pools…</p> : null}
      {adding ? (
        <div className="card">
          <h2>New pool</h2>
          <PoolEditor
            onDone={(message) => {
              setAdding(false);
              if (message !== undefined) saved(message);
            }}
          />
        </div>
      ) : null}
      {pools.data !== undefined && pools.data.pools.length === 0 ? (
        <Empty>No pools are configured. Create one with “New pool”.</Empty>
      ) : null}
      {pools.data?.pools.map((pool) => (
        <PoolCard key={pool.name} pool={pool} onSaved={saved} />
      ))}
    </section>
  );
}

function PoolCard({ pool, onSaved }: { pool: PoolView; onSaved: (message: string) => void }) {
  const [editing, setEditing] = useState(false);
  const headingId = useId();
  return (
    <article className="card" aria-labelledby={headingId} data-testid={`pool-${pool.name}`}>
      <div className="card-header">
        <h2 id={headingId}>
          {pool.name}{' '}
          <span className="muted">
            ({pool.algo}, {pool.healthy}/{pool.total} eligible)
          </span>
        </h2>
        <Can role="operator">
          <button type="button" onClick={() => setEditing((e) => !e)} aria-expanded={editing}>
            {editing ? 'Cancel' : `Edit ${pool.name}`}
          </button>
        </Can>
      </div>
      {editing ? (
        <PoolEditor
          pool={pool}
          onDone={(message) => {
            setEditing(false);
            if (message !== undefined) onSaved(message);
          }}
        />
      ) : null}
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Backends of pool {pool.name}</caption>
          <thead>
            <tr>
              <th scope="col">Backend</th>
              <th scope="col">Health</th>
              <th scope="col">Breaker</th>
              <th scope="col" className="num">
                EWMA latency
              </th>
              <th scope="col" className="num">
                In flight
              </th>
              <th scope="col" className="num">
                Weight
              </th>
              <th scope="col">Zone / region</th>
              <th scope="col" className="num">
                Cost / 1k
              </th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {pool.backends.map((backend) => (
              <tr key={backend.url}>
                <td className="mono">{backend.url}</td>
                <td>
                  <HealthBadge healthy={backend.healthy} />
                </td>
                <td>
                  <BreakerBadge state={backend.cb_state} />
                </td>
                <td className="num">{backend.ewma_ms.toFixed(2)} ms</td>
                <td className="num">{backend.inflight}</td>
                <td className="num">{backend.weight}</td>
                <td className="mono">{placeOf(backend)}</td>
                <td className="num">{backend.cost ?? '—'}</td>
                <td className="muted">{backend.last_error ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </article>
  );
}

/** A backend's zone and region as one cell: `zone / region`, either part `—` when unknown, `—` when both are. */
function placeOf(backend: PoolView['backends'][number]): string {
  if (backend.zone === undefined && backend.region === undefined) return '—';
  return `${backend.zone ?? '—'} / ${backend.region ?? '—'}`;
}

/** The messages of a refused edit: one per field problem of a 400, else the error's message. */
function problemsOf(error: ErrorBody): string[] {
  if (Array.isArray(error.details)) {
    const messages = (error.details as { messages?: unknown }[]).flatMap((d) =>
      Array.isArray(d.messages) ? d.messages.filter((m): m is string => typeof m === 'string') : [],
    );
    if (messages.length > 0) return messages;
  }
  return [error.message];
}

/** Creates a pool (no `pool`) or replaces one; checks in the browser first, then shows the orchestrator's verdict. */
function PoolEditor({ pool, onDone }: { pool?: PoolView; onDone: (message?: string) => void }) {
  const id = useId();
  const [name, setName] = useState(pool?.name ?? '');
  const [text, setText] = useState(pool === undefined ? '' : toLines(pool.backends));
  const [algo, setAlgo] = useState(pool?.algo ?? 'ewma');
  const [problems, setProblems] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: string[] = [];
    if (!POOL_NAME.test(name)) found.push('the name must be 1–64 characters of a–z, 0–9, _ and -');
    const parsed = parseLines(text, algo);
    if (!parsed.ok) found.push(...parsed.problems);
    if (found.length > 0 || !parsed.ok) {
      setProblems(found);
      return;
    }
    setBusy(true);
    const result = await api<{ pool: string; total: number }>(`/api/admin/pools/${name}`, {
      method: 'PUT',
      body: parsed.body,
    });
    setBusy(false);
    if (!result.ok) {
      setProblems(problemsOf(result.error));
      return;
    }
    setProblems([]);
    onDone(`Saved pool ${result.data.pool} (${result.data.total} backend${result.data.total === 1 ? '' : 's'}).`);
  };

  const remove = async () => {
    if (pool === undefined || !window.confirm(`Remove pool ${pool.name}? Requests for it will get 404.`)) return;
    setBusy(true);
    const result = await api(`/api/admin/pools/${pool.name}`, { method: 'DELETE' });
    setBusy(false);
    if (result.ok) onDone(`Removed pool ${pool.name}.`);
    else setProblems([result.error.message]);
  };

  const errorsId = `${id}-errors`;
  return (
    <form
      className="editor"
      onSubmit={(e) => void submit(e)}
      aria-describedby={problems.length > 0 ? errorsId : undefined}
      noValidate
    >
      {pool === undefined ? (
        <label>
          Name
          <input
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
            pattern="[a-z0-9_\-]{1,64}"
            autoComplete="off"
            spellCheck={false}
          />
        </label>
      ) : null}
      <label>
        Backends{' '}
        <span className="muted">
          (one per line: URL or host:port, optionally followed by a weight, then zone=…, region=…, cost=…)
        </span>
        <textarea
          value={text}
          onChange={(e) => setText(e.target.value)}
          rows={Math.max(3, text.split('\n').length + 1)}
          spellCheck={false}
          aria-invalid={problems.length > 0}
        />
      </label>
      <label>
        Algorithm
        <select value={algo} onChange={(e) => setAlgo(e.target.value as typeof algo)}>
          {ALGOS.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      </label>
      {problems.length === 0 ? null : (
        // The alert role goes on a wrapper: on the list itself it would replace the list's role, orphaning its items.
        <div id={errorsId} className="notice notice-error" role="alert">
          <ul>
            {problems.map((problem) => (
              <li key={problem}>{problem}</li>
            ))}
          </ul>
        </div>
      )}
      <div className="editor-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : pool === undefined ? 'Create pool' : `Save ${pool.name}`}
        </button>
        <button type="button" onClick={() => onDone()} disabled={busy}>
          Cancel
        </button>
        {pool === undefined ? null : (
          <button type="button" className="danger" onClick={() => void remove()} disabled={busy}>
            Remove pool
          </button>
        )}
      </div>
    </form>
  );
}
