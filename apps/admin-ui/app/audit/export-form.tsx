'use client';

import { useState, type FormEvent } from 'react';
import { ErrorNotice } from '../components/status';
import type { ErrorBody } from '../lib/types';

type Mode = 'seq' | 'time';

/** A text field of the form ('' when absent). */
function field(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === 'string' ? value : '';
}

/** The export's query from the form, or why it is not valid. */
function exportQuery(mode: Mode, form: FormData): { query: string } | { problem: string } {
  const params = new URLSearchParams();
  if (mode === 'seq') {
    const from = field(form, 'fromSeq');
    const to = field(form, 'toSeq');
    if (!/^[1-9]\d*$/.test(from) || !/^[1-9]\d*$/.test(to) || Number(to) < Number(from)) {
      return { problem: 'Give two seqs, the first not after the last.' };
    }
    params.set('fromSeq', from);
    params.set('toSeq', to);
  } else {
    const since = Date.parse(field(form, 'since'));
    const until = Date.parse(field(form, 'until'));
    if (Number.isNaN(since) || Number.isNaN(until) || until <= since) {
      return { problem: 'Give two times, the first before the last.' };
    }
    params.set('since', new Date(since).toISOString());
    params.set('until', new Date(until).toISOString());
  }
  return { query: params.toString() };
}

/**
 * "Export for auditors": downloads a range of the ledger (by seq, or by time in the browser's time zone) with its
 * checkpoints and head, through the UI's relay; `shieldx ledger verify <file>` checks it offline.
 */
export function ExportForm() {
  const [mode, setMode] = useState<Mode>('seq');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorBody | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setError(null);
    setDone(null);
    const built = exportQuery(mode, new FormData(event.currentTarget));
    if ('problem' in built) {
      setError({ error: 'invalid_range', message: built.problem });
      return;
    }
    setBusy(true);
    try {
      const response = await fetch(`/api/admin/ledger/export?${built.query}`, { cache: 'no-store' });
      if (!response.ok) {
        const body = (await response.json().catch(() => ({}))) as Partial<ErrorBody>;
        setError({
          error: body.error ?? `http_${response.status}`,
          message: body.message ?? `HTTP ${response.status}`,
        });
        return;
      }
      const name =
        /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? 'ledger-export.jsonl';
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement('a');
      link.href = url;
      link.download = name;
      link.click();
      URL.revokeObjectURL(url);
      setDone(name);
    } catch (failure) {
      setError({ error: 'network', message: (failure as Error).message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="filters card" onSubmit={(event) => void submit(event)} aria-label="Export for auditors">
      <div className="card-header">
        <h2>Export for auditors</h2>
      </div>
      <fieldset>
        <label>
          <input type="radio" checked={mode === 'seq'} onChange={() => setMode('seq')} /> By seq
        </label>
        <label>
          <input type="radio" checked={mode === 'time'} onChange={() => setMode('time')} /> By time
        </label>
      </fieldset>
      {mode === 'seq' ? (
        <>
          <label>
            From seq
            <input name="fromSeq" inputMode="numeric" required />
          </label>
          <label>
            To seq
            <input name="toSeq" inputMode="numeric" required />
          </label>
        </>
      ) : (
        <>
          <label>
            Since
            <input name="since" type="datetime-local" step="1" required />
          </label>
          <label>
            Until
            <input name="until" type="datetime-local" step="1" required />
          </label>
        </>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Exporting…' : 'Download export'}
      </button>
      <p className="muted">
        The range is extended to the next signed checkpoint; verify the file offline with{' '}
        <code>npx shieldx ledger verify &lt;file&gt;</code>. At most 1,000,000 entries per export.
      </p>
      <div aria-live="polite">
        {error !== null ? <ErrorNotice error={error} title="The export failed" /> : null}
        {done !== null ? (
          <p className="notice notice-ok" data-testid="export-status">
            Downloaded {done}.
          </p>
        ) : null}
      </div>
    </form>
  );
}
