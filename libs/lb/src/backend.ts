import { Breaker, type BreakerOptions, type BreakerStateName } from './breaker';
import { type MonotonicClock, monotonicClock } from './clock';
import { isLocalityToken } from './locality';
import { requirePositive } from './options';
import { DEFAULT_EWMA_DECAY_MS, DEFAULT_RTT_MS, PeakEwma } from './peak-ewma';

/** Options of a {@link Backend}. */
export interface BackendOptions {
  /** Latency assumed before the first sample and after a return to health, in ms. > 0, default 50. */
  defaultRttMs?: number;
  /** Time constant of the peak-EWMA decay, in ms. > 0, default 10 000 (see {@link PeakEwma}). */
  ewmaDecayMs?: number;
  /** Time source for the estimate and the breaker, default {@link monotonicClock}. */
  clock?: MonotonicClock;
  /** Options of the backend's breaker (its clock is `clock`). Defaults as in {@link BreakerOptions}. */
  breaker?: Omit<BreakerOptions, 'clock'>;
}

/**
 * Where a backend runs and what it costs: `zone` and `region` (lowercase DNS labels, see
 * {@link import('./locality').LOCALITY_TOKEN}) for locality-aware routing, `cost` (price per 1,000 requests, finite
 * ≥ 0) for operators and cost-aware tooling. All optional.
 */
export interface BackendPlace {
  readonly zone?: string;
  readonly region?: string;
  readonly cost?: number;
}

/**
 * One backend's entry in the `/health` body (docs/http-api.md). `ewma_ms` is the decayed estimate, fractional ms.
 * `zone`, `region` and `cost` are present only when set.
 */
export interface BackendJSON {
  url: string;
  healthy: boolean;
  ewma_ms: number;
  inflight: number;
  cb_state: BreakerStateName;
  weight: number;
  last_error: string | null;
  zone?: string;
  region?: string;
  cost?: number;
}

/**
 * One upstream of a pool and its live statistics: in-flight count, health, peak-EWMA latency and circuit breaker.
 * The owner calls {@link acquire} when a request is sent (the {@link Pool} does this on pick) and, when it ends,
 * {@link release}, {@link observe} with its latency, and `breaker.success()` or `breaker.failure()`.
 */
export class Backend {
  /** Base URL, e.g. `http://10.0.0.5:8080`; unique within a pool. */
  readonly url: string;
  /** Requests sent and not yet ended; never below 0. */
  inflight = 0;
  /** Last error seen by the health prober or the proxy, or null. */
  lastError: string | null = null;
  /** This backend's circuit breaker. */
  readonly breaker: Breaker;

  private weightValue: number;
  private placeValue: BackendPlace = NO_PLACE;
  private healthyValue = true;
  private readonly ewma: PeakEwma;
  private readonly clock: MonotonicClock;
  private readonly defaultRttMs: number;

  /**
   * @param url base URL of the backend (non-empty)
   * @param weight relative share of traffic, finite > 0, default 1
   * @throws Error naming the URL and the value when the weight or an option is invalid
   */
  constructor(url: string, weight = 1, opts: BackendOptions = {}) {
    if (typeof url !== 'string' || url.length === 0) {
      throw new Error(`backend url must be a non-empty string, got ${JSON.stringify(url)}`);
    }
    this.url = url;
    this.weightValue = checkWeight(url, weight);
    this.clock = opts.clock ?? monotonicClock;
    try {
      this.defaultRttMs = requirePositive('defaultRttMs', opts.defaultRttMs ?? DEFAULT_RTT_MS);
      const decayMs = requirePositive('ewmaDecayMs', opts.ewmaDecayMs ?? DEFAULT_EWMA_DECAY_MS);
      this.ewma = new PeakEwma(decayMs, this.defaultRttMs, this.clock.now());
      this.breaker = new Breaker({ ...opts.breaker, clock: this.clock });
    } catch (e) {
      throw new Error(`backend ${url}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Relative share of traffic (finite > 0, default 1). Change it with {@link setWeight}. */
  get weight(): number {
    return this.weightValue;
  }

  /** Changes the weight, keeping every statistic. @throws Error naming the URL and the value. */
  setWeight(weight: number): void {
    this.weightValue = checkWeight(this.url, weight);
  }

  /** Zone the backend runs in, if known. Change it with {@link setPlace}. */
  get zone(): string | undefined {
    return this.placeValue.zone;
  }

  /** Region the backend runs in, if known. Change it with {@link setPlace}. */
  get region(): string | undefined {
    return this.placeValue.region;
  }

  /** Price per 1,000 requests, if known. Change it with {@link setPlace}. */
  get cost(): number | undefined {
    return this.placeValue.cost;
  }

  /**
   * Replaces zone, region and cost (absent fields become unknown), keeping every statistic. A pool's locality tiers
   * are computed from them when the pool is built or updated, so change them through {@link Pool.update}.
   * @throws Error naming the URL and the bad value
   */
  setPlace(place: BackendPlace): void {
    this.placeValue = checkPlace(this.url, place);
  }

  /**
   * Set by the health prober; starts true. A return to health (false → true) resets the latency estimate to
   * `defaultRttMs`: the estimate decayed towards zero while the backend got no traffic, and would otherwise draw
   * a flood of requests before its first fresh sample.
   */
  get healthy(): boolean {
    return this.healthyValue;
  }

  set healthy(value: boolean) {
    if (value && !this.healthyValue) this.ewma.reset(this.defaultRttMs, this.clock.now());
    this.healthyValue = value;
  }

  /** Counts one request sent to this backend. */
  acquire(): void {
    this.inflight++;
  }

  /** Counts one request ended (whatever its outcome); never goes below 0. */
  release(): void {
    if (this.inflight > 0) this.inflight--;
  }

  /**
   * Peak-EWMA latency estimate in ms (fractional) at `now` (ms, default `clock.now()`), decayed by the time since the
   * last sample. Reading never changes the estimate.
   */
  ewmaMs(now: number = this.clock.now()): number {
    return this.ewma.read(now);
  }

  /** Feeds one observed latency in ms (finite, ≥ 0, sub-ms precision kept) at `now` (default `clock.now()`). */
  observe(latencyMs: number, now: number = this.clock.now()): void {
    this.ewma.observe(latencyMs, now);
  }

  /** True when healthy and the breaker would admit a request at `now` (ms); does not take a half-open trial. */
  isEligible(now: number): boolean {
    return this.healthyValue && this.breaker.canPass(now);
  }

  /**
   * The `/health` entry. `now` in ms, default `clock.now()`; a non-number argument (JSON.stringify passes the
   * property key) is ignored.
   */
  toJSON(now?: number): BackendJSON {
    const t = typeof now === 'number' ? now : this.clock.now();
    const json: BackendJSON = {
      url: this.url,
      healthy: this.healthyValue,
      ewma_ms: this.ewma.read(t),
      inflight: this.inflight,
      cb_state: this.breaker.stateName,
      weight: this.weightValue,
      last_error: this.lastError,
    };
    const { zone, region, cost } = this.placeValue;
    if (zone !== undefined) json.zone = zone;
    if (region !== undefined) json.region = region;
    if (cost !== undefined) json.cost = cost;
    return json;
  }
}

const NO_PLACE: BackendPlace = Object.freeze({});

/**
 * Returns a frozen copy of `place` with only its set fields if zone and region are locality tokens and cost is finite
 * ≥ 0; otherwise throws an Error naming the URL and the value.
 */
export function checkPlace(url: string, place: BackendPlace): BackendPlace {
  const { zone, region, cost } = place;
  if (zone === undefined && region === undefined && cost === undefined) return NO_PLACE;
  if (zone !== undefined && !isLocalityToken(zone)) {
    throw new Error(`backend ${url}: zone must be a lowercase label (a-z, 0-9, -; 1-63), got ${JSON.stringify(zone)}`);
  }
  if (region !== undefined && !isLocalityToken(region)) {
    throw new Error(
      `backend ${url}: region must be a lowercase label (a-z, 0-9, -; 1-63), got ${JSON.stringify(region)}`,
    );
  }
  if (cost !== undefined && (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0)) {
    throw new Error(`backend ${url}: cost must be a finite number >= 0, got ${String(cost)}`);
  }
  return Object.freeze({
    ...(zone === undefined ? {} : { zone }),
    ...(region === undefined ? {} : { region }),
    ...(cost === undefined ? {} : { cost }),
  });
}

/** Returns `weight` if it is a finite number > 0; otherwise throws an Error naming the URL and the value. */
export function checkWeight(url: string, weight: number): number {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new Error(`backend ${url}: weight must be a finite number > 0, got ${String(weight)}`);
  }
  return weight;
}
