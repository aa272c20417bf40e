import type { BucketResult, BucketStore, BucketTake } from './bucket-store';
import { wallClock, type WallClock } from './clock';

/**
 * What a {@link FailoverBucketStore} does while its primary is down: `open` serves every take from the fallback
 * store (limits still hold, per instance); `closed` refuses every take with {@link BucketStoreUnavailableError}.
 */
export type FailureMode = 'open' | 'closed';

/** Thrown (or rejected with) by a fail-closed {@link FailoverBucketStore} while its primary is down. */
export class BucketStoreUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`rate-limit store unavailable: ${reason}`);
    this.name = 'BucketStoreUnavailableError';
  }
}

/** A change of the primary's state, as reported to {@link FailoverBucketStore.onStateChange} listeners. */
export interface PrimaryStateChange {
  /** `up`: takes go to the primary again; `down`: they go to the fallback (or are refused). */
  readonly state: 'up' | 'down';
  /** Why: the error that took the primary down, or what brought it back. */
  readonly reason: string;
  /** Epoch ms of the change. */
  readonly at: number;
}

/** Options of {@link FailoverBucketStore}. */
export interface FailoverBucketStoreOptions {
  /** Default `open`. */
  readonly mode?: FailureMode;
  /** A cheap check that the primary answers again (e.g. a Redis `PING`); it must settle within a short time. */
  readonly probe: () => Promise<unknown>;
  /** Interval between probes while the primary is down, in ms. Default 1000. */
  readonly probeEveryMs?: number;
  /** State at construction. Default `up`. */
  readonly initialState?: 'up' | 'down';
  /** Time source for the fallback after an asynchronous failure and for change events. Default `Date.now`. */
  readonly clock?: WallClock;
}

/**
 * A {@link BucketStore} in front of a shared primary (Redis) with a local fallback (in-process buckets). While the
 * primary is up every take goes to it; the first failed take (error, timeout, disconnection) marks it down and is
 * answered by the fallback, as is every take after it, without waiting on the primary. While down, `probe` runs every
 * `probeEveryMs` (and at once on {@link probeNow}); its first success brings the primary back. Each transition is
 * reported once to the {@link onStateChange} listeners. The store never waits longer than the primary's own bound.
 */
export class FailoverBucketStore implements BucketStore {
  readonly mode: FailureMode;
  private up: boolean;
  private closed = false;
  private probing = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastReason: string;
  private readonly probe: () => Promise<unknown>;
  private readonly probeEveryMs: number;
  private readonly clock: WallClock;
  private readonly listeners = new Set<(change: PrimaryStateChange) => void>();

  constructor(
    private readonly primary: BucketStore,
    private readonly fallback: BucketStore,
    options: FailoverBucketStoreOptions,
  ) {
    this.mode = options.mode ?? 'open';
    if (this.mode !== 'open' && this.mode !== 'closed') {
      throw new Error(`FailoverBucketStore: mode must be 'open' or 'closed', got ${String(this.mode)}`);
    }
    this.probe = options.probe;
    this.probeEveryMs = options.probeEveryMs ?? 1000;
    if (!(this.probeEveryMs > 0)) {
      throw new Error(`FailoverBucketStore: probeEveryMs must be > 0, got ${String(this.probeEveryMs)}`);
    }
    this.clock = options.clock ?? wallClock;
    this.up = (options.initialState ?? 'up') === 'up';
    this.lastReason = this.up ? 'started' : 'unavailable at start';
    if (!this.up) this.startProbing();
  }

  /** `up` while takes go to the primary. */
  get state(): 'up' | 'down' {
    return this.up ? 'up' : 'down';
  }

  /** Why the primary is in its current state. */
  get reason(): string {
    return this.lastReason;
  }

  take(key: string, ratePerMinute: number, burst: number, now: number): BucketResult | Promise<BucketResult> {
    if (!this.up) return this.degraded(key, ratePerMinute, burst, now);
    let outcome: BucketResult | Promise<BucketResult>;
    try {
      outcome = this.primary.take(key, ratePerMinute, burst, now);
    } catch (error) {
      this.markDown(describe(error));
      return this.degraded(key, ratePerMinute, burst, now);
    }
    if (!(outcome instanceof Promise)) return outcome;
    return outcome.catch((error: unknown) => {
      this.markDown(describe(error));
      return this.degraded(key, ratePerMinute, burst, this.clock.now());
    });
  }

  takeAll(takes: readonly BucketTake[], now: number): readonly BucketResult[] | Promise<readonly BucketResult[]> {
    if (!this.up) return this.degradedAll(takes, now);
    let outcome: readonly BucketResult[] | Promise<readonly BucketResult[]>;
    try {
      outcome = this.primary.takeAll(takes, now);
    } catch (error) {
      this.markDown(describe(error));
      return this.degradedAll(takes, now);
    }
    if (!(outcome instanceof Promise)) return outcome;
    return outcome.catch((error: unknown) => {
      this.markDown(describe(error));
      return this.degradedAll(takes, this.clock.now());
    });
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onStateChange(listener: (change: PrimaryStateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Marks the primary down now (e.g. its connection closed), before a take has to fail to find out. */
  markDown(reason: string): void {
    if (!this.up || this.closed) return;
    this.up = false;
    this.lastReason = reason;
    this.emit({ state: 'down', reason, at: this.clock.now() });
    this.startProbing();
  }

  /** Probes the primary at once when it is down (e.g. its connection is ready again). */
  probeNow(): void {
    if (!this.up && !this.closed) this.runProbe();
  }

  /** Stops probing and reporting; takes keep working in the current state. */
  close(): void {
    this.closed = true;
    this.stopProbing();
    this.listeners.clear();
  }

  private degraded(key: string, ratePerMinute: number, burst: number, now: number): BucketResult {
    if (this.mode === 'closed') throw new BucketStoreUnavailableError(this.lastReason);
    const result = this.fallback.take(key, ratePerMinute, burst, now);
    if (result instanceof Promise) throw new Error('FailoverBucketStore: the fallback store must answer synchronously');
    return result;
  }

  private degradedAll(takes: readonly BucketTake[], now: number): readonly BucketResult[] {
    if (this.mode === 'closed') throw new BucketStoreUnavailableError(this.lastReason);
    const results = this.fallback.takeAll(takes, now);
    if (results instanceof Promise) {
      throw new Error('FailoverBucketStore: the fallback store must answer synchronously');
    }
    return results;
  }

  private startProbing(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => this.runProbe(), this.probeEveryMs);
    this.timer.unref();
  }

  private stopProbing(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private runProbe(): void {
    if (this.probing) return;
    this.probing = true;
    // Through a settled promise so a probe that throws synchronously counts as a failed probe.
    Promise.resolve()
      .then(() => this.probe())
      .then(
        () => {
          this.probing = false;
          this.markUp();
        },
        (error: unknown) => {
          this.probing = false;
          this.lastReason = describe(error);
        },
      );
  }

  private markUp(): void {
    if (this.up || this.closed) return;
    this.up = true;
    this.lastReason = 'probe succeeded';
    this.stopProbing();
    this.emit({ state: 'up', reason: this.lastReason, at: this.clock.now() });
  }

  private emit(change: PrimaryStateChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure must not change how requests are limited.
      }
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
