/** The states of a rollout: two live ones (traffic is split) and three final ones. */
export type RolloutState = 'running' | 'paused' | 'promoted' | 'rolled_back' | 'aborted';

/** The two versions of a pool under rollout. */
export type RolloutSide = 'stable' | 'canary';

/**
 * The phase of a live rollout: `preview` (the canary gets copies of safe requests, no client traffic) before
 * `traffic` (the canary serves the step's share of client requests).
 */
export type RolloutPhase = 'preview' | 'traffic';

/** Methods a preview copies when the rollout names none: safe ones, which change nothing on a backend. */
export const SAFE_PREVIEW_METHODS: readonly string[] = ['GET', 'HEAD'];

/** What a rollout does: its steps (canary share in %, rising, ending at 100) and the analysis thresholds. */
export interface RolloutSpec {
  /** Canary shares in percent, strictly rising, each in 1..100, the last 100. `[100]` is blue-green. */
  readonly steps: readonly number[];
  /** Length of one analysis interval in ms. */
  readonly intervalMs: number;
  /** Highest canary error share (5xx and failed attempts) in [0, 1] that still passes. */
  readonly maxErrorRate: number;
  /** Highest canary p99 as a multiple of stable's p99 that still passes. */
  readonly maxP99Ratio: number;
  /** Canary requests an interval needs before it is judged. */
  readonly minRequests: number;
  /** True: a request's key (hashKey, else client IP) decides its side, so a caller stays on one version. */
  readonly sticky: boolean;
  /** True: one interval of preview (copies, no client traffic) comes before the first step. Default false. */
  readonly preview?: boolean;
  /** Methods the preview copies (upper case); default {@link SAFE_PREVIEW_METHODS}. */
  readonly previewMethods?: readonly string[];
}

/** One side's figures over the current analysis window. */
export interface SideSummary {
  readonly requests: number;
  readonly errors: number;
  readonly errorRate: number;
  /** p99 of the time to response headers in ms (bucket upper bound), null without samples. */
  readonly p99Ms: number | null;
}

/**
 * Why a transition happened. `previewed`: the preview passed and the canary gets the first step's share;
 * `restored`: a live rollout carried on after a restart (same state and step, a fresh interval).
 */
export type TransitionKind =
  'started' | 'previewed' | 'advanced' | 'promoted' | 'rolled_back' | 'paused' | 'resumed' | 'aborted' | 'restored';

/** One change of state or step, as recorded in `rollout.step` events and metrics. */
export interface RolloutTransition {
  readonly kind: TransitionKind;
  readonly from: RolloutState;
  readonly to: RolloutState;
  /** Canary share in % before and after. */
  readonly fromPercent: number;
  readonly toPercent: number;
  readonly reason: string;
  /** The phase after the transition (a final state keeps the phase it ended in). */
  readonly phase: RolloutPhase;
  readonly stable: SideSummary;
  readonly canary: SideSummary;
}

/** A window's raw counts, as shared between instances: requests, errors and the latency histogram. */
export interface WindowCounts {
  readonly requests: number;
  readonly errors: number;
  /** Samples per latency bucket (64 entries). */
  readonly histogram: readonly number[];
}

/** Number of latency buckets; bucket i holds samples up to {@link bucketBound}(i) ms. */
const BUCKETS = 64;
/** Growth factor of the bucket bounds: 1 ms × 1.25^i covers about 26 minutes with 64 buckets. */
const GROWTH = 1.25;
const LOG_GROWTH = Math.log(GROWTH);

/** Upper bound in ms of latency bucket `i`. */
function bucketBound(i: number): number {
  return GROWTH ** i;
}

/** Counters of one side over one window: requests, errors and a fixed latency histogram (no growth per sample). */
export class SideWindow {
  requests = 0;
  errors = 0;
  private readonly histogram = new Uint32Array(BUCKETS);
  private samples = 0;

  /** Counts one request: failed or not, and its time to headers in ms when it has one. */
  record(failed: boolean, ms: number | null): void {
    this.requests++;
    if (failed) this.errors++;
    if (ms === null || !Number.isFinite(ms)) return;
    const i = ms <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms) / LOG_GROWTH));
    this.histogram[i]++;
    this.samples++;
  }

  /** The 99th percentile (bucket upper bound, ms), null without samples. */
  p99(): number | null {
    if (this.samples === 0) return null;
    const rank = Math.ceil(this.samples * 0.99);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.histogram[i];
      if (seen >= rank) return bucketBound(i);
    }
    return bucketBound(BUCKETS - 1);
  }

  /** The window's figures. */
  summary(): SideSummary {
    const p99 = this.p99();
    return {
      requests: this.requests,
      errors: this.errors,
      errorRate: this.requests === 0 ? 0 : this.errors / this.requests,
      p99Ms: p99 === null ? null : Math.round(p99 * 100) / 100,
    };
  }

  /** The raw counts (for another instance to add). */
  counts(): WindowCounts {
    return { requests: this.requests, errors: this.errors, histogram: Array.from(this.histogram) };
  }

  /** Adds another window's counts (an instance's share of the same interval). */
  add(counts: WindowCounts): void {
    this.requests += counts.requests;
    this.errors += counts.errors;
    const n = Math.min(BUCKETS, counts.histogram.length);
    for (let i = 0; i < n; i++) {
      this.histogram[i] += counts.histogram[i];
      this.samples += counts.histogram[i];
    }
  }

  /** Starts a new window. */
  reset(): void {
    this.requests = 0;
    this.errors = 0;
    this.samples = 0;
    this.histogram.fill(0);
  }
}

/** The JSON view of a rollout (admin API). */
export interface RolloutView {
  readonly state: RolloutState;
  readonly phase: RolloutPhase;
  readonly percent: number;
  readonly step: number;
  readonly steps: readonly number[];
  readonly intervalMs: number;
  readonly maxErrorRate: number;
  readonly maxP99Ratio: number;
  readonly minRequests: number;
  readonly sticky: boolean;
  readonly preview: boolean;
  readonly previewMethods: readonly string[];
  /** Time left in the current interval (ms), null when not running. */
  readonly nextDecisionInMs: number | null;
  readonly window: { readonly stable: SideSummary; readonly canary: SideSummary };
  readonly history: readonly (RolloutTransition & { readonly at: number })[];
}

/** Transitions kept in {@link Rollout.history}. */
const HISTORY_MAX = 50;

/** Everything a rollout needs to carry on elsewhere (after a restart, on another instance); windows excluded. */
export interface RolloutSnapshot {
  readonly spec: RolloutSpec;
  readonly state: RolloutState;
  readonly phase: RolloutPhase;
  readonly index: number;
  readonly intervalStart: number;
  readonly baselineP99: number | null;
  /** Number of the analysis window: it changes whenever the windows start afresh. */
  readonly window: number;
  readonly history: readonly (RolloutTransition & { readonly at: number })[];
}

/**
 * The state machine of one progressive rollout, free of I/O: the caller feeds it outcomes ({@link record}) and the
 * time ({@link tick}) from an injected clock, and acts on the transitions it returns. At the end of each interval it
 * advances when the canary saw at least `minRequests`, its error rate is ≤ `maxErrorRate` and its p99 ≤
 * `maxP99Ratio` × stable's; it rolls back on a breach; it stays, keeping the window, with too few requests. A breach
 * already certain mid-interval (`minRequests` seen, error rate above the limit) rolls back at once.
 */
export class Rollout {
  private stateValue: RolloutState = 'running';
  private phaseValue: RolloutPhase;
  private index = 0;
  private intervalStart: number;
  /** Stable's p99 from the last window that had stable samples: the reference once stable gets no traffic. */
  private baselineP99: number | null = null;
  private windowValue = 0;
  /** The windows a decision in progress judges (every instance's summed), for the transition's figures. */
  private judged: { readonly stable: SideWindow; readonly canary: SideWindow } | undefined;
  readonly stable = new SideWindow();
  readonly canary = new SideWindow();
  private readonly log: (RolloutTransition & { at: number })[] = [];

  /**
   * @param now the injected clock's time (ms) the rollout starts at
   * @param restored a snapshot to carry on from (no `started` transition then)
   */
  constructor(
    readonly spec: RolloutSpec,
    now: number,
    restored?: RolloutSnapshot,
  ) {
    this.intervalStart = now;
    this.phaseValue = spec.preview === true ? 'preview' : 'traffic';
    if (restored === undefined) {
      this.note('started', 'running', this.percent, spec.preview === true ? 'preview started' : 'rollout started', now);
      return;
    }
    this.stateValue = restored.state;
    this.phaseValue = restored.phase;
    this.index = Math.min(Math.max(0, restored.index), spec.steps.length - 1);
    this.intervalStart = restored.intervalStart;
    this.baselineP99 = restored.baselineP99;
    this.windowValue = restored.window;
    this.log.push(...restored.history.slice(-HISTORY_MAX));
  }

  /** The current state. */
  get state(): RolloutState {
    return this.stateValue;
  }

  /** The current phase: `preview` (copies only) or `traffic` (clients' requests are split). */
  get phase(): RolloutPhase {
    return this.phaseValue;
  }

  /** True while live in the preview phase: the canary gets copies, never client traffic. */
  get previewing(): boolean {
    return this.phaseValue === 'preview' && this.live;
  }

  /** Number of the current analysis window (changes whenever the windows start afresh). */
  get window(): number {
    return this.windowValue;
  }

  /** What carries the rollout on elsewhere: state, phase, step, interval, baseline, history. */
  snapshot(): RolloutSnapshot {
    return {
      spec: this.spec,
      state: this.stateValue,
      phase: this.phaseValue,
      index: this.index,
      intervalStart: this.intervalStart,
      baselineP99: this.baselineP99,
      window: this.windowValue,
      history: this.log,
    };
  }

  /**
   * Starts a fresh window and interval at `now` without a transition: after a restart the window's counts are lost,
   * and a decision needs a whole interval of them.
   */
  restartInterval(now: number): void {
    this.startWindow(now);
  }

  /** Notes that a live rollout carries on after a restart, with a fresh interval. Undefined when final. */
  restored(now: number, reason: string): RolloutTransition | undefined {
    if (!this.live) return undefined;
    this.startWindow(now);
    return this.note('restored', this.stateValue, this.percent, reason, now);
  }

  /** True while traffic is split (running or paused). */
  get live(): boolean {
    return this.stateValue === 'running' || this.stateValue === 'paused';
  }

  /** The canary's share of client traffic in percent now: the step while live (0 in preview), 100 once promoted. */
  get percent(): number {
    if (this.live) return this.phaseValue === 'preview' ? 0 : this.spec.steps[this.index];
    return this.stateValue === 'promoted' ? 100 : 0;
  }

  /** When the current interval ends (clock ms). */
  get intervalEnd(): number {
    return this.intervalStart + this.spec.intervalMs;
  }

  /** The latest transitions, oldest first. */
  get history(): readonly (RolloutTransition & { readonly at: number })[] {
    return this.log;
  }

  /**
   * Counts one outcome of `side` (failed: a 5xx or an attempt that got no answer; `ms`: time to headers). Returns the
   * rollback when it makes a breach certain.
   */
  record(side: RolloutSide, failed: boolean, ms: number | null, now: number): RolloutTransition | undefined {
    if (!this.live) return undefined;
    const window = side === 'canary' ? this.canary : this.stable;
    window.record(failed, ms);
    if (side !== 'canary' || !failed || this.stateValue !== 'running') return undefined;
    return this.breach(this.canary, now);
  }

  /**
   * Rolls back at once when `canary` (this instance's window, or every instance's summed) makes a breach certain:
   * `minRequests` seen and the error rate over the limit. Undefined otherwise.
   */
  breach(canary: SideWindow, now: number, stable: SideWindow = this.stable): RolloutTransition | undefined {
    if (this.stateValue !== 'running') return undefined;
    const { requests, errors } = canary;
    if (requests >= this.spec.minRequests && errors / requests > this.spec.maxErrorRate) {
      this.judged = { stable, canary };
      try {
        return this.finish(
          'rolled_back',
          'rolled_back',
          `${this.prefix()}canary error rate ${ratio(errors, requests)} over the limit`,
          now,
        );
      } finally {
        this.judged = undefined;
      }
    }
    return undefined;
  }

  /**
   * Decides when the interval is over at `now`: advance (out of the preview: `previewed`), promote, roll back, or
   * stay. `windows` replaces this instance's own windows (every instance's counts summed by the deciding instance).
   */
  tick(
    now: number,
    windows?: { readonly stable: SideWindow; readonly canary: SideWindow },
  ): RolloutTransition | undefined {
    if (this.stateValue !== 'running' || now < this.intervalEnd) return undefined;
    this.judged = windows;
    try {
      return this.decide(now, windows);
    } finally {
      this.judged = undefined;
    }
  }

  private decide(
    now: number,
    windows: { readonly stable: SideWindow; readonly canary: SideWindow } | undefined,
  ): RolloutTransition | undefined {
    const stableWindow = windows?.stable ?? this.stable;
    const canary = (windows?.canary ?? this.canary).summary();
    if (canary.requests < this.spec.minRequests) {
      // Too few to judge: the window carries over into the next interval.
      this.intervalStart = now;
      return undefined;
    }
    if (canary.errorRate > this.spec.maxErrorRate) {
      return this.finish(
        'rolled_back',
        'rolled_back',
        `${this.prefix()}canary error rate ${canary.errorRate.toFixed(4)} over the limit`,
        now,
      );
    }
    const stableP99 = stableWindow.p99() ?? this.baselineP99;
    if (stableP99 !== null && canary.p99Ms !== null && canary.p99Ms > this.spec.maxP99Ratio * stableP99) {
      return this.finish(
        'rolled_back',
        'rolled_back',
        `${this.prefix()}canary p99 ${canary.p99Ms} ms over ${this.spec.maxP99Ratio} × stable ${stableP99} ms`,
        now,
      );
    }
    if (this.phaseValue === 'preview') {
      const transition = this.transition('previewed', 'running', 0, this.spec.steps[0], 'preview passed its analysis');
      this.phaseValue = 'traffic';
      this.startWindow(now, stableWindow);
      return this.push({ ...transition, phase: 'traffic' }, now);
    }
    if (this.index === this.spec.steps.length - 1) {
      return this.finish('promoted', 'promoted', 'last step passed its analysis', now);
    }
    const from = this.percent;
    const transition = this.transition(
      'advanced',
      'running',
      from,
      this.spec.steps[this.index + 1],
      'step passed its analysis',
    );
    this.index++;
    this.startWindow(now, stableWindow);
    return this.push(transition, now);
  }

  /** Holds the split where it is: no decision until {@link resume}. Undefined when not running. */
  pause(now: number, reason = 'paused'): RolloutTransition | undefined {
    if (this.stateValue !== 'running') return undefined;
    return this.note('paused', 'paused', this.percent, reason, now);
  }

  /** Starts a fresh interval at the current step. Undefined when not paused. */
  resume(now: number, reason = 'resumed'): RolloutTransition | undefined {
    if (this.stateValue !== 'paused') return undefined;
    this.startWindow(now);
    return this.note('resumed', 'running', this.percent, reason, now);
  }

  /** Sends all traffic to the canary for good. Undefined when already final. */
  promote(now: number, reason = 'promoted'): RolloutTransition | undefined {
    return this.live ? this.finish('promoted', 'promoted', reason, now) : undefined;
  }

  /** Sends all traffic back to stable for good. Undefined when already final. */
  abort(now: number, reason = 'aborted'): RolloutTransition | undefined {
    return this.live ? this.finish('aborted', 'aborted', reason, now) : undefined;
  }

  /** The admin view at `now`. */
  view(now: number): RolloutView {
    return {
      state: this.stateValue,
      phase: this.phaseValue,
      percent: this.percent,
      step: this.index,
      steps: this.spec.steps,
      intervalMs: this.spec.intervalMs,
      maxErrorRate: this.spec.maxErrorRate,
      maxP99Ratio: this.spec.maxP99Ratio,
      minRequests: this.spec.minRequests,
      sticky: this.spec.sticky,
      preview: this.spec.preview === true,
      previewMethods: this.spec.previewMethods ?? SAFE_PREVIEW_METHODS,
      nextDecisionInMs: this.stateValue === 'running' ? Math.max(0, Math.round(this.intervalEnd - now)) : null,
      window: { stable: this.stable.summary(), canary: this.canary.summary() },
      history: this.log,
    };
  }

  /** Reasons of a preview's decisions say so. */
  private prefix(): string {
    return this.phaseValue === 'preview' ? 'preview: ' : '';
  }

  private finish(kind: TransitionKind, to: RolloutState, reason: string, now: number): RolloutTransition {
    const from = this.percent;
    const transition = this.transition(kind, to, from, to === 'promoted' ? 100 : 0, reason);
    this.stateValue = to;
    return this.push(transition, now);
  }

  private note(
    kind: TransitionKind,
    to: RolloutState,
    percent: number,
    reason: string,
    now: number,
  ): RolloutTransition {
    const transition = this.transition(kind, to, kind === 'started' ? 0 : percent, percent, reason);
    this.stateValue = to;
    return this.push(transition, now);
  }

  private transition(
    kind: TransitionKind,
    to: RolloutState,
    fromPercent: number,
    toPercent: number,
    reason: string,
  ): RolloutTransition {
    return {
      kind,
      from: this.stateValue,
      to,
      fromPercent,
      toPercent,
      reason,
      phase: this.phaseValue,
      stable: (this.judged?.stable ?? this.stable).summary(),
      canary: (this.judged?.canary ?? this.canary).summary(),
    };
  }

  private push(transition: RolloutTransition, at: number): RolloutTransition {
    this.log.push({ ...transition, at });
    if (this.log.length > HISTORY_MAX) this.log.shift();
    return transition;
  }

  private startWindow(now: number, stable: SideWindow = this.stable): void {
    const p99 = stable.p99();
    if (p99 !== null) this.baselineP99 = p99;
    this.stable.reset();
    this.canary.reset();
    this.intervalStart = now;
    this.windowValue++;
  }
}

function ratio(errors: number, requests: number): string {
  return (errors / requests).toFixed(4);
}
