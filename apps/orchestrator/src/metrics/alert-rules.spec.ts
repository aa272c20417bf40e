import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { METRIC } from './metric-names';

const RULES_DIR = new URL('../../../../deploy/prometheus/', import.meta.url);
const RUNBOOK = new URL('../../../../docs/runbook.md', import.meta.url);

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const EXPORTED = new Set<string>(Object.values(METRIC));
const NAME = /\b(?:orchestrator|ratls)_[a-z0-9_]+\b/g;
const HISTOGRAM_SERIES = /_(?:bucket|count|sum)$/;
const RECORDED = /\bshieldx:[a-z0-9_:]+/g;

/** The orchestrator metric names `expr` uses that the orchestrator does not export (a histogram's series count as it). */
function unknownMetrics(expr: string): string[] {
  return [...expr.matchAll(NAME)]
    .map(([name]) => name)
    .filter((name) => !EXPORTED.has(name) && !EXPORTED.has(name.replace(HISTOGRAM_SERIES, '')));
}

/** GitHub's heading anchors of a markdown page, as scripts/check-docs.mjs computes them. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (heading === null) continue;
    anchors.add(
      heading[1]
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  }
  return anchors;
}

const files = readdirSync(RULES_DIR).filter((name) => name.endsWith('.yaml') && !name.endsWith('.test.yaml'));
const rules: Rule[] = files.flatMap((name) => {
  const doc = parse(readFileSync(new URL(name, RULES_DIR), 'utf8')) as { groups: { rules: Rule[] }[] };
  return doc.groups.flatMap((group) => group.rules);
});
const alerts = rules.filter((rule) => rule.alert !== undefined);

describe('Prometheus alert rules (deploy/prometheus)', () => {
  it('finds the rule file and its alerts', () => {
    expect(files).toContain('shieldx-alerts.yaml');
    expect(alerts.length).toBeGreaterThanOrEqual(10);
  });

  it('uses only metric names the orchestrator exports (METRIC)', () => {
    const used = new Set(rules.flatMap((rule) => [...rule.expr.matchAll(NAME)].map(([name]) => name)));
    for (const name of [METRIC.cbOpen, METRIC.certExpiry, METRIC.ledgerErrors, METRIC.rateLimitRedisUp]) {
      expect(used, name).toContain(name);
    }
    expect(used).toContain(`${METRIC.httpDuration}_bucket`);
    expect(rules.flatMap((rule) => unknownMetrics(rule.expr))).toEqual([]);
  });

  it('reports a name the orchestrator does not export, and a histogram suffix on a counter is still checked', () => {
    expect(unknownMetrics('rate(orchestrator_route_totals[5m]) + ratls_cert_expiry_timestamp')).toEqual([
      'orchestrator_route_totals',
      'ratls_cert_expiry_timestamp',
    ]);
    expect(unknownMetrics('orchestrator_http_request_duration_seconds_count + orchestrator_cb_open_total')).toEqual([]);
  });

  it('uses only recorded series that a rule records', () => {
    const recorded = new Set(rules.flatMap((rule) => (rule.record === undefined ? [] : [rule.record])));
    const used = alerts.flatMap((rule) => [...rule.expr.matchAll(RECORDED)].map(([name]) => name));
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((name) => !recorded.has(name))).toEqual([]);
  });

  it('gives every alert a severity, a summary, a description and a runbook section that exists', () => {
    const anchors = anchorsOf(readFileSync(RUNBOOK, 'utf8'));
    const names = new Set<string>();
    for (const rule of alerts) {
      const name = rule.alert ?? '';
      expect(names.has(name), `${name} is defined twice`).toBe(false);
      names.add(name);
      expect(['critical', 'warning'], name).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, name).toMatch(/\S/);
      expect(rule.annotations?.description, name).toMatch(/\S/);
      const runbook = /^docs\/runbook\.md#(.+)$/.exec(rule.annotations?.runbook_url ?? '');
      expect(runbook, name).not.toBeNull();
      expect(anchors.has(runbook?.[1] ?? ''), `${name}: no heading #${runbook?.[1]} in docs/runbook.md`).toBe(true);
    }
  });
});
