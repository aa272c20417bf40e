/** Where a key stands in {@link AdaptiveLimits}: its usual rate, tightened, or climbing back to its full limit. */
export type AdaptivePhase = 'normal' | 'tightened' | 'recovering';

/** Why a key's limit went back to full: its rate stayed normal for the recovery time, an operator, or eviction. */
export type AdaptiveRelaxCause = 'recovered' | 'released' | 'evicted';

/**
 * A change of a key's limit, reported to {@link AdaptiveLimits.onEvent} listeners: `tightened` (flagged), `recovering`
 * (its rate is back near its baseline; the factor climbs to 1 over the recovery time) and `relaxed` (factor 1 again).
 * Rates are requests per second; `at` is the time of the change (epoch ms).
 */
export interface AdaptiveEvent {
  readonly kind: 'tightened' | 'recovering' | 'relaxed';
  readonly key: string;
  /** The key's learned rate (frozen while it is tightened or recovering). */
  readonly baselineRate: number;
  /** The key's rate over the short window. */
  readonly currentRate: number;
  /** The rate above which the key is flagged. */
  readonly thresholdRate: number;
  /** The factor applied to the key's limit from now on. */
  readonly factor: number;
  readonly at: number;
  /** Set on `relaxed` only. */
  readonly cause?: AdaptiveRelaxCause;
}

/** A key as {@link AdaptiveLimits.inspect} and {@link AdaptiveLimits.tightenedNow} show it; rates in requests/s. */
export interface AdaptiveKeyInfo {
  readonly key: string;
  readonly phase: AdaptivePhase;
  /** True once the key has been seen for the minimum learning time; only then can it be flagged. */
  readonly learned: boolean;
  readonly baselineRate: number;
  /** Standard deviation of the key's per-slot rate around its baseline. */
  readonly baselineDeviation: number;
  readonly currentRate: number;
  readonly thresholdRate: number;
  readonly factor: number;
  /** When the key was tightened (epoch ms); 0 when normal. */
  readonly since: number;
  /** When its recovery started (epoch ms); 0 unless recovering. */
  readonly recoveringSince: number;
}

/** The baselines of one kind of key (the prefix before the first ':'), learned keys only; rates in requests/s. */
export interface AdaptivePopulationInfo {
  readonly kind: string;
  readonly keys: number;
  readonly meanRate: number;
  /** Mean plus one standard deviation of the baselines: the population gate a key must also exceed. */
  readonly typicalRate: number;
}

/** Options of {@link AdaptiveLimits}; times in milliseconds, rates in requests per second. */
export interface AdaptiveLimitsOptions {
  /**
   * How readily a key is flagged (> 0, default 1). Its short-window rate must exceed its baseline by `6 / sensitivity`
   * standard deviations and be at least `1 + 2 / sensitivity` times it (3× at 1, 2× at 2, 5× at 0.5).
   */
  readonly sensitivity?: number;
  /** Time from a key's first request before it can be flagged (default 120 000). */
  readonly minLearningMs?: number;
  /** Factor applied to a flagged key's limit, 0 < f < 1 (default 0.1). */
  readonly tightenFactor?: number;
  /** Time over which the factor climbs linearly back to 1 once the key's rate is normal again (default 60 000). */
  readonly recoveryMs?: number;
  /** Most keys modelled; the least recently active one is dropped beyond it (default 100 000). */
  readonly maxKeys?: number;
  /** Length of one counting slot (default 1000). */
  readonly slotMs?: number;
  /** Time constant of the baseline's moving average and variance (default 120 000; at least one slot). */
  readonly baselineMs?: number;
  /** Length of the short window whose rate is compared with the thresholds (default 3000; 1 to 60 slots). */
  readonly fastWindowMs?: number;
  /** A key whose short-window rate is at or below this is never flagged (default 10). */
  readonly minRate?: number;
}

/**
 * Per-key model state: numbers, two strings and one small array, so a shared store could hold it as it is. Rates are
 * requests per second; `slotStart` and the other times are epoch ms.
 */
interface KeyState {
  /** The key's population: its prefix before the first ':'. */
  kind: string;
  firstAt: number;
  /** Seen for the minimum learning time: part of its population, can be flagged. */
  learned: boolean;
  slotStart: number;
  /** Requests in the current slot. */
  count: number;
  /** Slots folded into the baseline, up to the baseline's span (a plain average until then, a moving one after). */
  slots: number;
  mean: number;
  variance: number;
  /** Request counts of the last finished slots (window − 1 of them), a ring starting at `recentHead`. */
  recent: number[];
  recentHead: number;
  recentSum: number;
  thresholdRate: number;
  relaxRate: number;
  /** A count in the current slot above which the short-window rate exceeds `thresholdRate`. */
  limitCount: number;
  phase: AdaptivePhase;
  since: number;
  recoverFrom: number;
  /** Active in a later slot since eviction last passed it over (second-chance LRU). */
  referenced: boolean;
}

interface Population {
  readonly kind: string;
  keys: number;
  sum: number;
  sumSq: number;
  /** Mean plus {@link POPULATION_SIGMAS} standard deviations of the baselines. */
  typical: number;
}

/** The population gate: mean plus this many standard deviations of the kind's baselines (≈ 84th percentile). */
const POPULATION_SIGMAS = 1;
/** Most recently active keys an eviction moves to the back before it evicts one anyway. */
const EVICTION_SCAN = 32;
/** A tightened key recovers once its rate is within this fraction of the way from its baseline to its threshold. */
const RELAX_FRACTION = 0.25;

/**
 * Online model of each key's normal request rate, flagging keys whose short-window rate is far above their own baseline
 * and above their population's (keys of the same kind: `tenant:…` with tenants, `ip:…` with IPs). A flagged key's
 * limit is multiplied by the tighten factor until its rate is back near its baseline, then climbs back to full over
 * the recovery time. The baseline does not learn while a key is tightened or recovering, so a flood cannot teach it.
 *
 * {@link observe} is O(1) and allocation-free in the steady state: it counts into the key's current slot; a finished
 * slot is folded into the model on the key's next observation or query. Memory is bounded by `maxKeys` (approximate
 * LRU: second chance for keys active in a later slot). Time is passed in by the caller (epoch ms); a clock that steps
 * back restarts the current slot.
 */
export class AdaptiveLimits {
  private readonly states = new Map<string, KeyState>();
  private readonly tightenedKeys = new Map<string, KeyState>();
  private readonly populations = new Map<string, Population>();
  private readonly listeners = new Set<(event: AdaptiveEvent) => void>();
  /** Events of the call in progress, delivered when the model is consistent again (listeners may query it). */
  private readonly pending: AdaptiveEvent[] = [];
  private dispatching = false;

  private readonly sigmas: number;
  private readonly ratio: number;
  private readonly minLearningMs: number;
  private readonly tightenFactor: number;
  private readonly recoveryMs: number;
  private readonly maxKeys: number;
  private readonly slotMs: number;
  private readonly minRate: number;
  /** Slots averaged plainly before the moving average takes over, and the moving average's weight. */
  private readonly baselineSlots: number;
  private readonly alpha: number;
  private readonly windowSlots: number;
  /** Requests per second of one request per short window. */
  private readonly windowRate: number;

  constructor(options: AdaptiveLimitsOptions = {}) {
    const sensitivity = options.sensitivity ?? 1;
    check(Number.isFinite(sensitivity) && sensitivity > 0, 'sensitivity must be a number > 0', sensitivity);
    const slotMs = options.slotMs ?? 1000;
    check(Number.isInteger(slotMs) && slotMs >= 1, 'slotMs must be an integer ≥ 1', slotMs);
    const minLearningMs = options.minLearningMs ?? 120_000;
    check(Number.isFinite(minLearningMs) && minLearningMs >= 0, 'minLearningMs must be a number ≥ 0', minLearningMs);
    const tightenFactor = options.tightenFactor ?? 0.1;
    check(tightenFactor > 0 && tightenFactor < 1, 'tightenFactor must be a number with 0 < f < 1', tightenFactor);
    const recoveryMs = options.recoveryMs ?? 60_000;
    check(Number.isFinite(recoveryMs) && recoveryMs >= 0, 'recoveryMs must be a number ≥ 0', recoveryMs);
    const maxKeys = options.maxKeys ?? 100_000;
    check(Number.isInteger(maxKeys) && maxKeys >= 1, 'maxKeys must be an integer ≥ 1', maxKeys);
    const baselineMs = options.baselineMs ?? 120_000;
    check(Number.isFinite(baselineMs) && baselineMs >= slotMs, `baselineMs must be a number ≥ slotMs`, baselineMs);
    const fastWindowMs = options.fastWindowMs ?? 3000;
    const windowSlots = Math.round(fastWindowMs / slotMs);
    check(
      Number.isFinite(fastWindowMs) && windowSlots >= 1 && windowSlots <= 60,
      `fastWindowMs must be 1 to 60 slots of ${slotMs} ms`,
      fastWindowMs,
    );
    const minRate = options.minRate ?? 10;
    check(Number.isFinite(minRate) && minRate >= 0, 'minRate must be a number ≥ 0', minRate);

    this.sigmas = 6 / sensitivity;
    this.ratio = 1 + 2 / sensitivity;
    this.minLearningMs = minLearningMs;
    this.tightenFactor = tightenFactor;
    this.recoveryMs = recoveryMs;
    this.maxKeys = maxKeys;
    this.slotMs = slotMs;
    this.minRate = minRate;
    this.baselineSlots = Math.round(baselineMs / slotMs);
    this.alpha = 1 / this.baselineSlots;
    this.windowSlots = windowSlots;
    this.windowRate = 1000 / (windowSlots * slotMs);
  }

  /** Number of keys modelled. */
  get size(): number {
    return this.states.size;
  }

  /**
   * Subscribes to tighten/recover/relax events; returns the unsubscribe function. Events are delivered synchronously at
   * the end of the call that raised them, once the model is consistent (a listener may query it); a listener's
   * exception is ignored.
   */
  onEvent(listener: (event: AdaptiveEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Records one request of `key` at `now` and returns the factor for its limit: 1 when normal, the tighten factor when
   * flagged, in between while recovering. Call it for every request, refused ones included: the model must see the
   * rate that is offered, not the rate that is let through.
   */
  observe(key: string, now: number): number {
    let state = this.states.get(key);
    if (state === undefined) {
      state = this.create(key, now);
    } else {
      const elapsed = now - state.slotStart;
      if (elapsed >= this.slotMs) {
        // The elapsed time, not `now`, goes down: an integer that small needs no boxing, keeping the fold free of
        // allocation.
        this.fold(key, state, elapsed);
        state.referenced = true;
      } else if (elapsed < 0) {
        // The clock stepped back: restart the slot (and a recovery) now rather than wait for the clock to catch up.
        state.slotStart = now;
        if (state.recoverFrom > now) state.recoverFrom = now;
      }
    }
    if (++state.count > state.limitCount) this.tighten(key, state, now);
    const factor = state.phase === 'normal' ? 1 : this.factorOf(key, state, now);
    if (this.pending.length !== 0) this.dispatch();
    return factor;
  }

  /** The factor for `key`'s limit at `now` without recording a request (1 for an unknown key). */
  factor(key: string, now: number): number {
    const state = this.states.get(key);
    if (state === undefined) return 1;
    this.advance(key, state, now);
    return this.settled(this.factorOf(key, state, now));
  }

  /** The model of `key` at `now`, or undefined when it is not modelled. */
  inspect(key: string, now: number): AdaptiveKeyInfo | undefined {
    const state = this.states.get(key);
    if (state === undefined) return undefined;
    this.advance(key, state, now);
    const factor = this.factorOf(key, state, now);
    return this.settled(this.info(key, state, now, factor));
  }

  /** The keys tightened or recovering at `now`, with their rates and factor, the longest-tightened first. */
  tightenedNow(now: number): AdaptiveKeyInfo[] {
    const list: AdaptiveKeyInfo[] = [];
    for (const [key, state] of this.tightenedKeys) {
      this.advance(key, state, now);
      const factor = this.factorOf(key, state, now);
      if (state.phase !== 'normal') list.push(this.info(key, state, now, factor));
    }
    return this.settled(list.sort((a, b) => a.since - b.since));
  }

  /** The baselines of the learned keys of `kind` (the prefix before ':'; '' for keys without one). */
  population(kind: string): AdaptivePopulationInfo {
    const population = this.populations.get(kind);
    if (population === undefined) return { kind, keys: 0, meanRate: 0, typicalRate: 0 };
    return {
      kind,
      keys: population.keys,
      meanRate: population.sum / population.keys,
      typicalRate: population.typical,
    };
  }

  /**
   * Forgets `key` (an operator's decision that its new rate is legitimate): its limit is full at once and its baseline
   * is learned anew. Returns true when it was tightened or recovering (a `relaxed` event with cause `released`).
   */
  release(key: string, now: number): boolean {
    const state = this.states.get(key);
    if (state === undefined) return false;
    this.states.delete(key);
    return this.settled(this.drop(key, state, now, 'released'));
  }

  /** Delivers the events the call raised, now that the model is consistent; returns `value`. */
  private settled<T>(value: T): T {
    if (this.pending.length !== 0) this.dispatch();
    return value;
  }

  private create(key: string, now: number): KeyState {
    if (this.states.size >= this.maxKeys) this.evict(now);
    const colon = key.indexOf(':');
    const kind = colon < 0 ? '' : key.slice(0, colon);
    const state: KeyState = {
      kind: this.populations.get(kind)?.kind ?? kind,
      firstAt: now,
      learned: false,
      slotStart: now,
      count: 0,
      slots: 0,
      mean: 0,
      variance: 0,
      recent: new Array<number>(this.windowSlots - 1).fill(0),
      recentHead: 0,
      recentSum: 0,
      thresholdRate: Infinity,
      relaxRate: 0,
      limitCount: Infinity,
      phase: 'normal',
      since: 0,
      recoverFrom: 0,
      referenced: false,
    };
    this.states.set(key, state);
    return state;
  }

  /**
   * Drops one key to make room, second-chance order (CLOCK): from the oldest entry on, a key active in a later slot
   * since it was last passed over moves to the back; the first one that was not is evicted. Keys are not reordered per
   * request, so the hot path never touches the map's order; at most {@link EVICTION_SCAN} keys are passed over.
   */
  private evict(now: number): void {
    let scanned = 0;
    for (const [key, state] of this.states) {
      if (state.referenced && ++scanned <= EVICTION_SCAN) {
        state.referenced = false;
        this.states.delete(key);
        this.states.set(key, state);
        continue;
      }
      this.states.delete(key);
      this.drop(key, state, now, 'evicted');
      return;
    }
  }

  /** Removes a key's share of its population and, when it was tightened, reports it relaxed. */
  private drop(key: string, state: KeyState, now: number, cause: AdaptiveRelaxCause): boolean {
    if (state.learned) this.leave(state);
    if (state.phase === 'normal') return false;
    state.phase = 'normal';
    this.tightenedKeys.delete(key);
    this.emit('relaxed', key, state, now, cause);
    return true;
  }

  /** Folds the slots finished before `now` into the model (nothing when the current slot is still running). */
  private advance(key: string, state: KeyState, now: number): void {
    const elapsed = now - state.slotStart;
    if (elapsed >= this.slotMs) this.fold(key, state, elapsed);
  }

  /** Folds the slots finished `elapsed` ms (≥ one slot) after the current slot's start. */
  private fold(key: string, state: KeyState, elapsed: number): void {
    const slots = Math.floor(elapsed / this.slotMs);
    // Only a learned key in its normal phase moves its baseline, so only then does its population's share change.
    const population = state.learned && state.phase === 'normal' ? this.populations.get(state.kind) : undefined;
    if (population !== undefined) {
      population.sum -= state.mean;
      population.sumSq -= state.mean * state.mean;
    }
    // Slot by slot until the window no longer holds the current slot (windowSlots + 1 steps at most); the empty slots
    // after that only decay the baseline, in closed form.
    const steps = Math.min(slots, this.windowSlots + 1);
    for (let i = 0; i < steps; i++) {
      const count = i === 0 ? state.count : 0;
      if (state.phase === 'normal') this.learn(state, (count * 1000) / this.slotMs);
      const windowRate = (state.recentSum + count) * this.windowRate;
      this.push(state, count);
      if (state.phase === 'tightened' && windowRate <= state.relaxRate) {
        state.phase = 'recovering';
        state.recoverFrom = state.slotStart + (i + 1) * this.slotMs;
        this.emit('recovering', key, state, state.recoverFrom, undefined, windowRate);
      }
    }
    if (slots > steps && state.phase === 'normal') this.learnIdle(state, slots - steps);
    if (population !== undefined) {
      population.sum += state.mean;
      population.sumSq += state.mean * state.mean;
      this.retypical(population);
    }
    state.slotStart += slots * this.slotMs;
    state.count = 0;
    if (!state.learned && state.slotStart - state.firstAt >= this.minLearningMs) this.join(state);
    this.rethreshold(state);
  }

  /** Folds one slot's rate into the baseline: a plain mean and variance over the first slots, then moving ones. */
  private learn(state: KeyState, rate: number): void {
    const delta = rate - state.mean;
    if (state.slots < this.baselineSlots) {
      state.slots++;
      state.mean += delta / state.slots;
      state.variance += (delta * (rate - state.mean) - state.variance) / state.slots;
    } else {
      const step = this.alpha * delta;
      state.mean += step;
      state.variance = (1 - this.alpha) * (state.variance + delta * step);
    }
  }

  /** Folds `n` empty slots into the baseline in O(1) (the closed forms of `n` steps of {@link learn} with rate 0). */
  private learnIdle(state: KeyState, n: number): void {
    let mean = state.mean;
    let variance = state.variance;
    if (state.slots < this.baselineSlots) {
      const added = Math.min(n, this.baselineSlots - state.slots);
      const total = state.slots + added;
      variance = (variance * state.slots + (mean * mean * state.slots * added) / total) / total;
      mean = (mean * state.slots) / total;
      state.slots = total;
      n -= added;
    }
    if (n > 0) {
      const keep = Math.pow(1 - this.alpha, n);
      variance = keep * (variance + mean * mean * (1 - keep));
      mean *= keep;
    }
    state.mean = mean;
    state.variance = variance;
  }

  private push(state: KeyState, count: number): void {
    const length = state.recent.length;
    if (length === 0) return;
    const head = state.recentHead;
    state.recentSum += count - state.recent[head];
    state.recent[head] = count;
    state.recentHead = head + 1 === length ? 0 : head + 1;
  }

  /** Recomputes the thresholds after a fold: own baseline, population and floor; the relax rate; the slot's limit. */
  private rethreshold(state: KeyState): void {
    const own = Math.max(this.ratio * state.mean, state.mean + this.sigmas * Math.sqrt(state.variance));
    const population = this.populations.get(state.kind);
    state.thresholdRate = Math.max(this.minRate, own, population === undefined ? 0 : population.typical);
    state.relaxRate = Math.max(state.mean + (own - state.mean) * RELAX_FRACTION, this.minRate / 2);
    state.limitCount =
      state.learned && state.phase !== 'tightened' ? state.thresholdRate / this.windowRate - state.recentSum : Infinity;
  }

  private tighten(key: string, state: KeyState, now: number): void {
    state.phase = 'tightened';
    state.since = now;
    state.recoverFrom = 0;
    state.limitCount = Infinity;
    this.tightenedKeys.set(key, state);
    this.emit('tightened', key, state, now);
  }

  private factorOf(key: string, state: KeyState, now: number): number {
    if (state.phase === 'normal') return 1;
    if (state.phase === 'tightened') return this.tightenFactor;
    const elapsed = now - state.recoverFrom;
    if (elapsed < 0) return this.tightenFactor;
    if (elapsed >= this.recoveryMs) {
      state.phase = 'normal';
      state.since = 0;
      this.tightenedKeys.delete(key);
      this.rethreshold(state);
      this.emit('relaxed', key, state, state.recoverFrom + this.recoveryMs, 'recovered');
      return 1;
    }
    return this.tightenFactor + ((1 - this.tightenFactor) * elapsed) / this.recoveryMs;
  }

  /** The short-window rate at `now`: the finished slots of the window plus the current one, over the time covered. */
  private currentRate(state: KeyState, now: number): number {
    const covered = Math.min((this.windowSlots - 1) * this.slotMs + (now - state.slotStart), now - state.firstAt);
    return ((state.recentSum + state.count) * 1000) / Math.max(covered, this.slotMs);
  }

  private info(key: string, state: KeyState, now: number, factor: number): AdaptiveKeyInfo {
    return {
      key,
      phase: state.phase,
      learned: state.learned,
      baselineRate: state.mean,
      baselineDeviation: Math.sqrt(state.variance),
      currentRate: this.currentRate(state, now),
      thresholdRate: state.thresholdRate,
      factor,
      since: state.since,
      recoveringSince: state.phase === 'recovering' ? state.recoverFrom : 0,
    };
  }

  private join(state: KeyState): void {
    state.learned = true;
    let population = this.populations.get(state.kind);
    if (population === undefined) {
      population = { kind: state.kind, keys: 0, sum: 0, sumSq: 0, typical: 0 };
      this.populations.set(state.kind, population);
    }
    population.keys++;
    population.sum += state.mean;
    population.sumSq += state.mean * state.mean;
    this.retypical(population);
  }

  private leave(state: KeyState): void {
    const population = this.populations.get(state.kind);
    if (population === undefined) return;
    // The last key out deletes the entry, which also drops the rounding the running sums have gathered.
    if (--population.keys === 0) {
      this.populations.delete(state.kind);
      return;
    }
    population.sum -= state.mean;
    population.sumSq -= state.mean * state.mean;
    this.retypical(population);
  }

  /** Recomputes a population's gate after its sums changed. */
  private retypical(population: Population): void {
    const mean = population.sum / population.keys;
    const variance = Math.max(0, population.sumSq / population.keys - mean * mean);
    population.typical = mean + POPULATION_SIGMAS * Math.sqrt(variance);
  }

  private emit(
    kind: AdaptiveEvent['kind'],
    key: string,
    state: KeyState,
    at: number,
    cause?: AdaptiveRelaxCause,
    currentRate = this.currentRate(state, at),
  ): void {
    if (this.listeners.size === 0) return;
    this.pending.push({
      kind,
      key,
      baselineRate: state.mean,
      currentRate,
      thresholdRate: state.thresholdRate,
      factor: kind === 'relaxed' ? 1 : this.tightenFactor,
      at,
      ...(cause === undefined ? {} : { cause }),
    });
  }

  /** Delivers the pending events in order; events raised by listeners' own calls are delivered in the same loop. */
  private dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let i = 0; i < this.pending.length; i++) {
        for (const listener of this.listeners) {
          try {
            listener(this.pending[i]);
          } catch {
            // A listener's failure must not change how requests are limited.
          }
        }
      }
    } finally {
      this.pending.length = 0;
      this.dispatching = false;
    }
  }
}

function check(ok: boolean, message: string, value: unknown): void {
  if (!ok) throw new RangeError(`AdaptiveLimits: ${message}, got ${String(value)}`);
}
