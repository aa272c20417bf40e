import { canonicalJson } from '@shieldx/ledger';
import { withinWindow } from '../clock/clock';

/** An entry for the ledger: what `LedgerWriter.enqueue` takes. */
export interface GuardedEntry {
  readonly type: string;
  readonly corrId: string | null;
  readonly data: Readonly<Record<string, unknown>>;
}

/** Timer seam of the guard; the system one unrefs its timers (pending summaries are written on shutdown anyway). */
export interface GuardTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** `setTimeout`/`clearTimeout`, unref'd. */
export const unrefTimers: GuardTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Type of the summary entry written when the per-type cap suppressed entries. */
export const SUPPRESSED_TYPE = 'audit.suppressed';

/**
 * Types never aggregated: each one is a deliberate change (configuration, pools, policy, certificates) whose every
 * occurrence must be on record with its own correlation id. They are still subject to the per-type cap.
 */
export const NEVER_AGGREGATED: ReadonlySet<string> = new Set([
  'admin.action',
  'pool.changed',
  'policy.reloaded',
  'tls.reloaded',
]);

/** Options of {@link EventGuard}. */
export interface EventGuardOptions {
  /**
   * Aggregation window in ms; 0 turns aggregation off. An event identical to one written less than a window ago
   * (same type and same data, whatever the correlation id) is counted instead of written.
   */
  readonly windowMs: number;
  /** Entries of one type written per clock second, at most; integer ≥ 1. */
  readonly maxPerTypePerSecond: number;
  /** Most distinct events being aggregated at once (oldest flushed first beyond it). Default 10 000. */
  readonly maxKeys?: number;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  readonly timers?: GuardTimers;
  /** Receives every entry to write, in order. Must not throw. */
  readonly write: (entry: GuardedEntry) => void;
  /** Counts events by what happened to them (metrics). */
  readonly count?: (outcome: 'written' | 'aggregated' | 'suppressed', events: number) => void;
}

interface Aggregate {
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** Start of the current window. */
  since: number;
  /** Events counted (not written) in the current window. */
  count: number;
  firstAt: number;
  lastAt: number;
  lastCorrId: string | null;
}

/**
 * Keeps a flood of security events from flooding the audit ledger, in two steps, before anything reaches the writer:
 *
 * 1. **Aggregation.** The first occurrence of an event is written at once. Identical ones (same type, same canonical
 *    data) within the next `windowMs` are counted; when the window ends, one entry of the same type is written with
 *    the data plus `repeated: {count, firstAt, lastAt, windowMs, lastCorrId}`, and a new window starts (so a steady
 *    flood of one event costs one entry per window). Types in {@link NEVER_AGGREGATED} skip this step.
 * 2. **Per-type cap.** At most `maxPerTypePerSecond` entries of one type per clock second; the rest are counted, and
 *    when the second is over one `audit.suppressed` entry `{from, to, counts: {<type>: <events>}}` says how many events
 *    of each type were left out. A flood of distinct events (rotating paths, addresses) ends here.
 *
 * Plain class (clock and timers injected); `LedgerService` owns one. Not thread-safe, like everything in Node.
 */
export class EventGuard {
  private readonly windowMs: number;
  private readonly max: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  private readonly timers: GuardTimers;
  private readonly write: (entry: GuardedEntry) => void;
  private readonly count: (outcome: 'written' | 'aggregated' | 'suppressed', events: number) => void;

  /** Aggregates in window-start order (a restarted window is re-inserted at the end). */
  private readonly aggregates = new Map<string, Aggregate>();
  private sweepTimer: unknown = null;

  private second = -1;
  private readonly perType = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();
  private suppressedSince = 0;
  private summaryTimer: unknown = null;

  constructor(options: EventGuardOptions) {
    if (!Number.isFinite(options.windowMs) || options.windowMs < 0) {
      throw new Error(`EventGuard: windowMs must be >= 0, got ${options.windowMs}`);
    }
    if (!Number.isSafeInteger(options.maxPerTypePerSecond) || options.maxPerTypePerSecond < 1) {
      throw new Error(`EventGuard: maxPerTypePerSecond must be an integer >= 1, got ${options.maxPerTypePerSecond}`);
    }
    this.windowMs = options.windowMs;
    this.max = options.maxPerTypePerSecond;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.now = options.now;
    this.timers = options.timers ?? unrefTimers;
    this.write = options.write;
    this.count = options.count ?? (() => undefined);
  }

  /** Events being aggregated now (distinct keys). */
  get pendingAggregates(): number {
    return this.aggregates.size;
  }

  /**
   * Offers one event. Writes it, counts it into an aggregate, or counts it as suppressed.
   * @throws CanonicalJsonError when `entry.data` has no JSON form (nothing is recorded)
   */
  offer(entry: GuardedEntry): void {
    if (this.windowMs === 0 || NEVER_AGGREGATED.has(entry.type)) {
      this.admit(entry, 1);
      return;
    }
    const key = `${entry.type}\u0000${canonicalJson(entry.data)}`;
    const now = this.now();
    let aggregate = this.aggregates.get(key);
    if (aggregate !== undefined && now - aggregate.since >= this.windowMs) {
      // The sweep has not run yet: close the window now; a busy aggregate restarts and takes this event.
      this.closeWindow(key, aggregate, now);
      aggregate = this.aggregates.get(key);
    }
    if (aggregate !== undefined) {
      if (aggregate.count === 0) aggregate.firstAt = now;
      aggregate.count++;
      aggregate.lastAt = now;
      aggregate.lastCorrId = entry.corrId;
      this.count('aggregated', 1);
      return;
    }
    if (this.aggregates.size >= this.maxKeys) this.evictOldest();
    this.aggregates.set(key, {
      type: entry.type,
      data: entry.data,
      since: now,
      count: 0,
      firstAt: now,
      lastAt: now,
      lastCorrId: null,
    });
    this.armSweep();
    this.admit(entry, 1);
  }

  /** Writes every pending aggregate and the suppressed summary now (shutdown); timers are cleared. */
  flush(): void {
    const now = this.now();
    for (const [key, aggregate] of [...this.aggregates]) {
      this.aggregates.delete(key);
      if (aggregate.count > 0) this.admit(this.repeatedEntry(aggregate), aggregate.count);
    }
    this.clear('sweep');
    this.writeSummary(now);
  }

  /** Ends an aggregate's window: writes its repeat entry when it counted any, and restarts or drops it. */
  private closeWindow(key: string, aggregate: Aggregate, now: number): void {
    this.aggregates.delete(key);
    if (aggregate.count === 0) return;
    this.admit(this.repeatedEntry(aggregate), aggregate.count);
    // The flood goes on: keep counting in a fresh window instead of writing the next occurrence on its own.
    this.aggregates.set(key, { ...aggregate, since: now, count: 0 });
  }

  private repeatedEntry(aggregate: Aggregate): GuardedEntry {
    return {
      type: aggregate.type,
      corrId: aggregate.lastCorrId,
      data: {
        ...aggregate.data,
        repeated: {
          count: aggregate.count,
          firstAt: new Date(aggregate.firstAt).toISOString(),
          lastAt: new Date(aggregate.lastAt).toISOString(),
          windowMs: this.windowMs,
          lastCorrId: aggregate.lastCorrId,
        },
      },
    };
  }

  private evictOldest(): void {
    const oldest = this.aggregates.entries().next().value;
    if (oldest === undefined) return;
    const [key, aggregate] = oldest;
    this.aggregates.delete(key);
    if (aggregate.count > 0) this.admit(this.repeatedEntry(aggregate), aggregate.count);
  }

  /** Closes every window that has ended (they are at the front of the map). */
  private readonly sweep = (): void => {
    this.sweepTimer = null;
    const now = this.now();
    for (const [key, aggregate] of this.aggregates) {
      if (withinWindow(now, aggregate.since, this.windowMs)) break;
      this.closeWindow(key, aggregate, now);
      // closeWindow re-inserts a busy aggregate at the end; the loop stops when it reaches a window still open.
    }
    this.armSweep();
  };

  private armSweep(): void {
    if (this.sweepTimer !== null) return;
    const first = this.aggregates.values().next().value;
    if (first === undefined) return;
    // At most one window away: after the wall clock steps back, `since` lies ahead and would push the sweep out by the
    // whole step (the sweep then closes the window, see withinWindow).
    const due = Math.min(this.windowMs, Math.max(0, first.since + this.windowMs - this.now()));
    this.sweepTimer = this.timers.setTimeout(this.sweep, due);
  }

  /** The per-type cap: writes `entry` (standing for `events` events) or counts it as suppressed. */
  private admit(entry: GuardedEntry, events: number): void {
    const now = this.now();
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.writeSummary(now);
      this.second = second;
      this.perType.clear();
    }
    const written = this.perType.get(entry.type) ?? 0;
    if (written < this.max) {
      this.perType.set(entry.type, written + 1);
      this.write(entry);
      this.count('written', 1);
      return;
    }
    if (this.suppressed.size === 0) {
      this.suppressedSince = now;
      this.summaryTimer = this.timers.setTimeout(this.onSummaryTimer, (second + 1) * 1000 - now);
    }
    this.suppressed.set(entry.type, (this.suppressed.get(entry.type) ?? 0) + events);
    this.count('suppressed', events);
  }

  private readonly onSummaryTimer = (): void => {
    this.summaryTimer = null;
    this.writeSummary(this.now());
  };

  private writeSummary(now: number): void {
    this.clear('summary');
    if (this.suppressed.size === 0) return;
    const counts: Record<string, number> = {};
    for (const [type, events] of [...this.suppressed].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      counts[type] = events;
    }
    this.suppressed.clear();
    this.write({
      type: SUPPRESSED_TYPE,
      corrId: null,
      data: {
        from: new Date(this.suppressedSince).toISOString(),
        to: new Date(now).toISOString(),
        maxPerTypePerSecond: this.max,
        counts,
      },
    });
  }

  private clear(which: 'sweep' | 'summary'): void {
    if (which === 'sweep' && this.sweepTimer !== null) {
      this.timers.clearTimeout(this.sweepTimer);
      this.sweepTimer = null;
    }
    if (which === 'summary' && this.summaryTimer !== null) {
      this.timers.clearTimeout(this.summaryTimer);
      this.summaryTimer = null;
    }
  }
}
