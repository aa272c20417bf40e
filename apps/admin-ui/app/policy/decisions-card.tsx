'use client';

import { useState } from 'react';
import { TimeChart, type ChartSeries } from '../components/chart';
import { Empty } from '../components/status';
import { useResource } from '../lib/api';
import { useLiveEvent } from '../lib/live';
import { POLICY_ACTIONS, type DeniedAnswer, type TopEntry } from '../lib/policy-types';
import type { MetricsAnswer, MetricsSample } from '../lib/types';

/** Samples kept on screen: five minutes at one per second. */
const WINDOW = 300;

const perSecond = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

const SERIES: readonly ChartSeries[] = [
  { label: 'allow/s', color: 'var(--ok)', format: perSecond },
  { label: 'deny/s', color: 'var(--bad)', format: perSecond },
  { label: 'divert/s', color: 'var(--accent)', format: perSecond },
  { label: 'tarpit/s', color: 'var(--muted)', format: perSecond },
];

function TopTable({ title, entries, testId }: { title: string; entries: TopEntry[]; testId: string }) {
  if (entries.length === 0) return <Empty>No denial yet.</Empty>;
  return (
    <div className="table-wrap">
      <table data-testid={testId}>
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col" className="num">
              Denials
            </th>
          </tr>
        </thead>
        <tbody>
          {entries.map((entry) => (
            <tr key={entry.key}>
              <td className="mono">{entry.key}</td>
              <td className="num" title={entry.error > 0 ? `may overstate by up to ${entry.error}` : undefined}>
                {entry.error > 0 ? `≤ ${entry.count}` : entry.count}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Decisions per action over the last minutes (live), and the tenants and paths the policy denied most. */
export function DecisionsCard() {
  const metrics = useResource<MetricsAnswer>('/api/admin/metrics', undefined);
  const denied = useResource<DeniedAnswer>('/api/admin/policy/denied', undefined);
  const [live, setLive] = useState<MetricsSample[]>([]);
  useLiveEvent(['metrics'], (data) => {
    setLive((previous) => [...previous.slice(-(WINDOW - 1)), data as MetricsSample]);
    denied.refresh();
  });
  const seen = new Set(live.map((s) => s.ts));
  const samples = [...(metrics.data?.samples ?? []).filter((s) => !seen.has(s.ts)), ...live].slice(-WINDOW);
  const withDecisions = samples.filter((s) => s.decisionsPerSec !== undefined);
  return (
    <div className="grid-2">
      <figure className="card">
        <figcaption>Policy decisions per second, by action</figcaption>
        <TimeChart
          title="Policy decisions per second by action over time"
          times={withDecisions.map((s) => s.ts / 1000)}
          values={POLICY_ACTIONS.map((action) => withDecisions.map((s) => s.decisionsPerSec?.[action] ?? null))}
          series={SERIES}
        />
      </figure>
      <div className="card">
        <h2>Denied most</h2>
        <p className="muted">Since start, by policy decisions (approximate beyond the 200 keys tracked).</p>
        <TopTable title="Tenants denied most" entries={denied.data?.tenants ?? []} testId="denied-tenants" />
        <TopTable title="Paths denied most" entries={denied.data?.paths ?? []} testId="denied-paths" />
      </div>
    </div>
  );
}
