import type { Counter, Histogram, LabelValues } from 'prom-client';

/*
 * prom-client re-validates and re-hashes the label values of a labelled child on every `inc`/`observe` (its `labels()`
 * only binds the arguments). On the request path that is several hashes per request, so these children find the
 * record prom-client keeps for their label values once and update it in place. They rely on prom-client's internal
 * `hashMap` (records `{ labels, value }` for counters, `{ labels, sum, count, bucketValues }` for histograms, keyed by
 * label hash) and `upperBounds`; fast-children.spec.ts checks that what they produce is exactly what prom-client's own
 * calls produce, so an upgrade that changes those internals fails a test rather than the metrics. When the record is
 * not there (first use, or the registry was reset), they go through prom-client's public call, which creates it.
 */

interface CounterRecord {
  value: number;
  readonly labels: LabelValues<string>;
}

interface HistogramRecord {
  sum: number;
  count: number;
  readonly labels: LabelValues<string>;
  readonly bucketValues: Record<number, number>;
}

interface Internals<R> {
  readonly hashMap: Record<string, R | undefined>;
}

/** The key and record prom-client keeps for these exact label values, if any. */
function findRecord<R extends { readonly labels: LabelValues<string> }>(
  metric: Internals<R>,
  labels: LabelValues<string>,
): [string, R] | undefined {
  const names = Object.keys(labels);
  for (const [hash, record] of Object.entries(metric.hashMap)) {
    if (record === undefined) continue;
    const theirs = Object.keys(record.labels);
    if (theirs.length === names.length && names.every((name) => record.labels[name] === labels[name])) {
      return [hash, record];
    }
  }
  return undefined;
}

/** A counter child for fixed label values: `inc()` adds 1 to its record. */
export class FastCounterChild {
  private hash = '';
  private record: CounterRecord | undefined;

  constructor(
    private readonly counter: Counter<string>,
    private readonly labels: LabelValues<string>,
  ) {}

  inc(): void {
    const record = this.record;
    if (record !== undefined && (this.counter as unknown as Internals<CounterRecord>).hashMap[this.hash] === record) {
      record.value += 1;
      return;
    }
    this.counter.inc(this.labels, 1);
    [this.hash, this.record] = findRecord(this.counter as unknown as Internals<CounterRecord>, this.labels) ?? [
      '',
      undefined,
    ];
  }
}

/** A histogram child for fixed label values: `observe(value)` counts it in its record's bucket. */
export class FastHistogramChild {
  private hash = '';
  private record: HistogramRecord | undefined;
  private readonly bounds: readonly number[];

  constructor(
    private readonly histogram: Histogram<string>,
    private readonly labels: LabelValues<string>,
  ) {
    this.bounds = (histogram as unknown as { upperBounds: number[] }).upperBounds;
  }

  observe(value: number): void {
    const record = this.record;
    if (
      record === undefined ||
      !Number.isFinite(value) ||
      (this.histogram as unknown as Internals<HistogramRecord>).hashMap[this.hash] !== record
    ) {
      this.histogram.observe(this.labels, value);
      [this.hash, this.record] = findRecord(this.histogram as unknown as Internals<HistogramRecord>, this.labels) ?? [
        '',
        undefined,
      ];
      return;
    }
    record.sum += value;
    record.count += 1;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        record.bucketValues[bounds[i]] += 1;
        return;
      }
    }
  }
}

/**
 * The {@link FastCounterChild}ren of one counter, cached under a key the caller builds from the label values (so a
 * hit allocates nothing): `(children.get(key) ?? children.add(key, labels)).inc()`.
 */
export class CounterChildren {
  private readonly children = new Map<string, FastCounterChild>();

  constructor(private readonly counter: Counter<string>) {}

  /** The child cached under `key`, if any. */
  get(key: string): FastCounterChild | undefined {
    return this.children.get(key);
  }

  /** Creates and caches the child for `labels` under `key`. */
  add(key: string, labels: LabelValues<string>): FastCounterChild {
    const child = new FastCounterChild(this.counter, labels);
    this.children.set(key, child);
    return child;
  }
}
