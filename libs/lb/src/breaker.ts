import { type MonotonicClock, monotonicClock } from './clock';
import { requirePositive, requirePositiveInteger } from './options';

/**
 * Circuit-breaker state as data (serialisable for the admin API). Times are ms on the breaker's {@link MonotonicClock}
 * timeline (monotonic, not the Unix epoch): show `until − clock.now()` rather than `until` itself.
 * - `closed`: traffic flows; `failures` counts consecutive failures.
 * - `open`: no traffic until `until`; `openForMs` is the length of this open period.
 * - `half_open`: one trial request may go; `trialInFlight` says whether it has been handed out.
 */
export type BreakerState =
  | { readonly kind: 'closed'; readonly failures: number }
  | { readonly kind: 'open'; readonly until: number; readonly openForMs: number }
  | { readonly kind: 'half_open'; readonly trialInFlight: boolean; readonly openForMs: number };

/** The `kind` of a {@link BreakerState}; also the `cb_state` of the `/health` body (docs/http-api.md). */
export type BreakerStateName = BreakerState['kind'];

/** Options of a {@link Breaker}. */
export interface BreakerOptions {
  /** Consecutive failures that open a closed breaker (setting `ORCH_CB_FAILS`). Integer ≥ 1, default 3. */
  failureThreshold?: number;
  /** First open period in ms (setting `ORCH_CB_OPEN_FOR`). > 0, default 15 000. */
  openForMs?: number;
  /** Cap of the open period, which doubles on each failed half-open trial, in ms. ≥ openForMs, default 300 000. */
  maxOpenForMs?: number;
  /**
   * How long a half-open trial may stay unreported before another trial is admitted, in ms. > 0, default 30 000.
   * A lost outcome (a code path that never reports) would otherwise keep the backend out of rotation for good.
   */
  trialTimeoutMs?: number;
  /** Time source, default {@link monotonicClock}. */
  clock?: MonotonicClock;
}

/**
 * A state transition. `at` is the clock time (ms) of the call that caused it; `openForMs` is set when `to` is
 * `open` and gives the length of the new open period.
 */
export interface BreakerEvent {
  from: BreakerStateName;
  to: BreakerStateName;
  at: number;
  openForMs?: number;
}

const CLOSED: BreakerState = Object.freeze({ kind: 'closed', failures: 0 });

/**
 * Consecutive-failure circuit breaker with one half-open trial and exponential back-off of the open period.
 *
 * closed ─(failureThreshold consecutive failures)→ open ─(until reached, next allow())→ half_open (one trial)
 * half_open ─(trial succeeds)→ closed (open period back to openForMs)
 * half_open ─(trial fails)→ open for twice the previous period, capped at maxOpenForMs.
 *
 * Contract with the caller: every request for which {@link allow} returned true should end in exactly one
 * {@link success} or {@link failure} (a timeout is a failure); a half-open trial left unreported blocks further
 * trials for `trialTimeoutMs`, after which the next {@link allow} takes a new trial. Outcomes reported while `open` belong to requests sent before it opened (or sent in panic mode) and are
 * ignored. Listeners run synchronously after the state changed; they must not throw (an exception reaches the
 * caller of the method that caused the transition).
 */
export class Breaker {
  private readonly failureThreshold: number;
  private readonly baseOpenForMs: number;
  private readonly maxOpenForMs: number;
  private readonly trialTimeoutMs: number;
  private readonly clock: MonotonicClock;
  private current: BreakerState = CLOSED;
  private trialStartedAt = 0;
  private listeners: ((e: BreakerEvent) => void)[] = [];

  /** @throws RangeError naming the bad option. */
  constructor(opts: BreakerOptions = {}) {
    this.failureThreshold = requirePositiveInteger('failureThreshold', opts.failureThreshold ?? 3);
    this.baseOpenForMs = requirePositive('openForMs', opts.openForMs ?? 15_000);
    this.maxOpenForMs = requirePositive('maxOpenForMs', opts.maxOpenForMs ?? 300_000);
    if (this.maxOpenForMs < this.baseOpenForMs) {
      throw new RangeError(`maxOpenForMs must be >= openForMs (${this.baseOpenForMs}), got ${this.maxOpenForMs}`);
    }
    this.trialTimeoutMs = requirePositive('trialTimeoutMs', opts.trialTimeoutMs ?? 30_000);
    this.clock = opts.clock ?? monotonicClock;
  }

  /** The current state (an immutable snapshot). An expired `open` shows as `open` until the next {@link allow}. */
  get state(): BreakerState {
    return this.current;
  }

  /** The `kind` of {@link state}. */
  get stateName(): BreakerStateName {
    return this.current.kind;
  }

  /**
   * May a request go now? Closed: yes. Open: no, until `until`; from then the breaker moves to half_open and this call
   * takes the single trial (returns true). Half-open: true once for the trial, false to everyone else until the
   * trial's outcome is reported or `trialTimeoutMs` passed. `now` in ms, default `clock.now()`.
   */
  allow(now: number = this.clock.now()): boolean {
    const s = this.current;
    switch (s.kind) {
      case 'closed':
        return true;
      case 'open':
        if (now < s.until) return false;
        this.trialStartedAt = now;
        this.transition({ kind: 'half_open', trialInFlight: true, openForMs: s.openForMs }, now);
        return true;
      case 'half_open':
        if (s.trialInFlight && now - this.trialStartedAt < this.trialTimeoutMs) return false;
        this.trialStartedAt = now;
        if (!s.trialInFlight) this.current = { kind: 'half_open', trialInFlight: true, openForMs: s.openForMs };
        return true;
      default:
        return unreachable(s);
    }
  }

  /** Would {@link allow} return true now? Does not take the trial slot nor change state (for eligibility filters). */
  canPass(now: number = this.clock.now()): boolean {
    const s = this.current;
    switch (s.kind) {
      case 'closed':
        return true;
      case 'open':
        return now >= s.until;
      case 'half_open':
        return !s.trialInFlight || now - this.trialStartedAt >= this.trialTimeoutMs;
      default:
        return unreachable(s);
    }
  }

  /** Reports a successful request: closed → failure count reset; half_open → closed. Ignored while open. */
  success(now: number = this.clock.now()): void {
    const s = this.current;
    switch (s.kind) {
      case 'closed':
        if (s.failures !== 0) this.current = CLOSED;
        return;
      case 'open':
        return;
      case 'half_open':
        this.transition(CLOSED, now);
        return;
      default:
        unreachable(s);
    }
  }

  /**
   * Reports a failed request: closed → counts, opens for `openForMs` at the threshold; half_open (the trial failed) →
   * open for twice the last period, capped at `maxOpenForMs`. Ignored while open.
   */
  failure(now: number = this.clock.now()): void {
    const s = this.current;
    switch (s.kind) {
      case 'closed': {
        const failures = s.failures + 1;
        if (failures >= this.failureThreshold) this.open(this.baseOpenForMs, now);
        else this.current = { kind: 'closed', failures };
        return;
      }
      case 'open':
        return;
      case 'half_open':
        this.open(Math.min(s.openForMs * 2, this.maxOpenForMs), now);
        return;
      default:
        unreachable(s);
    }
  }

  /** Subscribes to state transitions; returns a function that unsubscribes. */
  onStateChange(listener: (e: BreakerEvent) => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** The state plus its name under `state`, e.g. `{kind: 'open', until, openForMs, state: 'open'}`. */
  toJSON(): BreakerState & { state: BreakerStateName } {
    return { ...this.current, state: this.current.kind };
  }

  private open(openForMs: number, now: number): void {
    this.transition({ kind: 'open', until: now + openForMs, openForMs }, now);
  }

  private transition(next: BreakerState, now: number): void {
    const from = this.current.kind;
    this.current = next;
    const event: BreakerEvent =
      next.kind === 'open'
        ? { from, to: next.kind, at: now, openForMs: next.openForMs }
        : { from, to: next.kind, at: now };
    // The array is replaced, never mutated, on (un)subscribe: a listener that unsubscribes during dispatch is safe.
    for (const listener of this.listeners) listener(event);
  }
}

function unreachable(s: never): never {
  throw new Error(`unknown breaker state ${JSON.stringify(s)}`);
}
