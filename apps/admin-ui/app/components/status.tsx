import type { ReactNode } from 'react';
import type { BreakerState, ErrorBody } from '../lib/types';

/** A breaker state as a badge: text first, colour only as a second cue. */
export function BreakerBadge({ state }: { state: BreakerState }) {
  const label = state === 'half_open' ? 'half-open' : state;
  return <span className={`badge badge-${state}`}>{label}</span>;
}

/** Healthy / unhealthy as a badge. */
export function HealthBadge({ healthy }: { healthy: boolean }) {
  return <span className={`badge ${healthy ? 'badge-ok' : 'badge-bad'}`}>{healthy ? 'healthy' : 'unhealthy'}</span>;
}

/** An error from the admin API, announced to screen readers. */
export function ErrorNotice({
  error,
  title = 'The orchestrator could not be read',
}: {
  error: ErrorBody;
  title?: string;
}) {
  return (
    <div className="notice notice-error" role="alert">
      <strong>{title}.</strong> {error.message} <span className="muted">({error.error})</span>
    </div>
  );
}

/** Shown where a list has nothing to show. */
export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

/** A page heading with an optional line of context and actions on the right. */
export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1>{title}</h1>
      {children === undefined ? null : <div className="page-actions">{children}</div>}
    </div>
  );
}

/** Formats milliseconds for people: `850 ms`, `12.5 s`, `3 min 5 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** An ISO time as local time of day with seconds, and the full value in the title. */
export function Time({ iso }: { iso: string | null }) {
  if (iso === null) return <span className="muted">never</span>;
  const date = new Date(iso);
  return (
    <time dateTime={iso} title={iso}>
      {date.toISOString().replace('T', ' ').slice(0, 19)} UTC
    </time>
  );
}
