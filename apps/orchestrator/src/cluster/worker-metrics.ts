/** One sample of a metric family as prom-client's `getMetricsAsJSON()` gives it. */
export interface JsonSample {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number | undefined>>;
  /** Set for the series of histograms and summaries (`<name>_bucket`, `_sum`, `_count`). */
  readonly metricName?: string;
}

/** One metric family as prom-client's `getMetricsAsJSON()` gives it. */
export interface JsonMetric {
  readonly name: string;
  readonly help: string;
  /** `counter`, `gauge`, `histogram` or `summary` (prom-client's typings call it a numeric enum). */
  readonly type: unknown;
  readonly values: readonly JsonSample[];
}

/** The metrics of one worker. */
export interface WorkerMetrics {
  readonly worker: number;
  readonly metrics: readonly JsonMetric[];
}

const TYPES = ['counter', 'gauge', 'histogram', 'summary'];

function typeName(type: unknown): string {
  if (typeof type === 'number') return TYPES[type] ?? 'untyped';
  return typeof type === 'string' ? type : 'untyped';
}

const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return Number.isNaN(value) ? 'NaN' : String(value);
}

function formatLabel(value: string | number): string {
  return typeof value === 'number' ? formatValue(value) : escapeLabel(value);
}

/**
 * The Prometheus text exposition of every worker's metrics, each sample labelled `worker="<slot>"`: one `HELP`/`TYPE`
 * per family, the samples of all workers under it. Counters stay per worker (so `rate()` works across a worker
 * restart) and are summed with `sum without (worker)`; gauges such as `orchestrator_policy_version` keep each
 * worker's own value instead of a meaningless sum.
 */
export function formatWorkerMetrics(workers: readonly WorkerMetrics[]): string {
  const families = new Map<string, { help: string; type: string; lines: string[] }>();
  for (const { worker, metrics } of [...workers].sort((x, y) => x.worker - y.worker)) {
    for (const metric of metrics) {
      let family = families.get(metric.name);
      if (family === undefined) {
        family = { help: metric.help, type: typeName(metric.type), lines: [] };
        families.set(metric.name, family);
      }
      for (const sample of metric.values) {
        const all: Record<string, string | number | undefined> = { ...sample.labels, worker };
        const labels = Object.entries(all)
          .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
          .map(([key, value]) => `${key}="${formatLabel(value)}"`)
          .join(',');
        family.lines.push(`${sample.metricName ?? metric.name}{${labels}} ${formatValue(sample.value)}`);
      }
    }
  }
  const out: string[] = [];
  for (const [name, family] of families) {
    out.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`, ...family.lines);
  }
  return `${out.join('\n')}\n`;
}
