'use client';

import { useState } from 'react';
import { TimeChart, type ChartSeries } from './components/chart';
import { ErrorNotice, PageHeader } from './components/status';
import { useLiveEvent } from './lib/live';
import type { ErrorBody, MetricsSample } from './lib/types';

/** Samples kept on screen: five minutes at one per second. */
const WINDOW = 300;

const perSecond = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const ms = (v: number) => `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms`;
const percent = (v: number) => `${v.toFixed(0)} %`;

const TRAFFIC: readonly ChartSeries[] = [
  { label: 'requests/s', color: 'var(--accent)', format: perSecond },
  { label: 'denials/s', color: 'var(--bad)', format: perSecond },
];
const LATENCY: readonly ChartSeries[] = [{ label: 'p99', color: 'var(--accent)', format: ms }];
const CACHE: readonly ChartSeries[] = [{ label: 'hit rate', color: 'var(--ok)', format: percent }];
const HEALTH: readonly ChartSeries[] = [{ label: 'healthy', color: 'var(--ok)', format: percent }];
const PERCENT_RANGE = [0, 100] as const;

function latestValue<T>(samples: readonly MetricsSample[], pick: (s: MetricsSample) => T | null): T | null {
  for (let i = samples.length - 1; i >= 0; i--) {
    const value = pick(samples[i]);
    if (value !== null) return value;
  }
  return null;
}

function Stat({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={`stat-${label}`}>
        {value}
      </div>
      {hint === undefined ? null : <div className="stat-hint muted">{hint}</div>}
    </div>
  );
}

/** The overview's stat tiles and live charts, fed by the `metrics` event every second. */
export function OverviewView({ initial, initialError }: { initial: MetricsSample[]; initialError?: ErrorBody }) {
  const [samples, setSamples] = useState<MetricsSample[]>(initial.slice(-WINDOW));
  useLiveEvent(['metrics'], (data) => {
    setSamples((previous) => [...previous.slice(-(WINDOW - 1)), data as MetricsSample]);
  });

  const times = samples.map((s) => s.ts / 1000);
  const last = samples.at(-1);
  const p99 = latestValue(samples, (s) => s.p99Ms);
  const hit = latestValue(samples, (s) => s.cacheHitRate);
  return (
    <section aria-labelledby="overview-title">
      <PageHeader title="Overview">
        <span className="muted">one sample per second, last {Math.round(samples.length / 60) || 1} min</span>
      </PageHeader>
      {initialError !== undefined && samples.length === 0 ? <ErrorNotice error={initialError} /> : null}
      <div className="stats">
        <Stat label="Requests/s" value={last === undefined ? '–' : perSecond(last.requestsPerSec)} />
        <Stat label="Denials/s" value={last === undefined ? '–' : perSecond(last.denialsPerSec)} />
        <Stat label="p99 latency" value={p99 === null ? '–' : ms(p99)} hint="data plane, last second with traffic" />
        <Stat
          label="Cache hit rate"
          value={hit === null ? '–' : percent(hit * 100)}
          hint={hit === null ? 'no OPA decisions yet' : 'OPA decision cache'}
        />
        <Stat label="Healthy backends" value={last === undefined ? '–' : percent(last.healthyRatio * 100)} />
      </div>
      {samples.length === 0 && initialError === undefined ? (
        <p className="empty" role="status">
          Waiting for the first samples…
        </p>
      ) : null}
      <div className="charts">
        <figure className="card">
          <figcaption>Requests and denials per second</figcaption>
          <TimeChart
            title="Requests and denials per second over time"
            times={times}
            values={[samples.map((s) => s.requestsPerSec), samples.map((s) => s.denialsPerSec)]}
            series={TRAFFIC}
          />
        </figure>
        <figure className="card">
          <figcaption>p99 latency (data plane)</figcaption>
          <TimeChart
            title="p99 latency over time"
            times={times}
            values={[samples.map((s) => s.p99Ms)]}
            series={LATENCY}
          />
        </figure>
        <figure className="card">
          <figcaption>Policy cache hit rate</figcaption>
          <TimeChart
            title="Policy decision cache hit rate over time"
            times={times}
            values={[samples.map((s) => (s.cacheHitRate === null ? null : s.cacheHitRate * 100))]}
            series={CACHE}
            range={PERCENT_RANGE}
          />
        </figure>
        <figure className="card">
          <figcaption>Healthy backends</figcaption>
          <TimeChart
            title="Share of healthy backends over time"
            times={times}
            values={[samples.map((s) => s.healthyRatio * 100)]}
            series={HEALTH}
            range={PERCENT_RANGE}
          />
        </figure>
      </div>
    </section>
  );
}
