import { type AlgoName, isAlgoName } from './algo';
import { Backend, type BackendJSON, type BackendOptions, type BackendPlace, checkPlace, checkWeight } from './backend';
import type { Balancer, BalancerOptions, PickContext } from './balancers/balancer';
import { createBalancer } from './balancers/create-balancer';
import { Breaker, type BreakerOptions } from './breaker';
import { type MonotonicClock, monotonicClock, type RandomSource } from './clock';
import { hashString64 } from './hash';
import {
  LOCALITY_TIERS,
  isLocalityToken,
  type Locality,
  type LocalityPlans,
  type LocalityTier,
  planLocality,
  spillLoads,
  type TierPlan,
} from './locality';
import { requireNonNegative, requirePositive, requireRatio } from './options';

/** Seed of the key hash that places a `rendezvous` key in a tier, apart from the balancer's own key hash. */
const TIER_SEED = 0x74696572;
/** 2^-32: turns the high 32 bits of a key hash into a uniform share in [0, 1). */
const UNIT_32 = 1 / 4294967296;

/** Options of a {@link Pool}. */
export interface PoolOptions extends BalancerOptions {
  /** Algorithm used when a pick names none. Default `'ewma'` (setting `ORCH_LB_ALGO`). */
  algo?: AlgoName;
  /**
   * Panic threshold, a share in [0, 1], default 0.5 (as Envoy's healthy panic threshold of 50 %). When fewer than
   * this share of the backends are eligible, the pool balances over all backends, eligible or not, rather than
   * piling the whole load onto the few that remain. 0 disables panic mode.
   */
  panicThreshold?: number;
  /** Breaker options of the backends the pool creates in {@link Pool.update}; defaults as in {@link BreakerOptions}. */
  breaker?: Omit<BreakerOptions, 'clock'>;
  /**
   * The gateway's own place (settings `ORCH_ZONE`, `ORCH_REGION`). With it, and backends that name a zone or region,
   * every pick prefers the gateway's zone, then its region, then anywhere (see {@link spillLoads}).
   */
  locality?: Locality;
  /**
   * True when picks may name the client's region ({@link PickContext.region}): the pool then also keeps a tier plan
   * per region its backends name. Default false.
   */
  clientRegions?: boolean;
}

/** Outcome of {@link Pool.pick}. */
export interface PickResult {
  /** The chosen backend, already acquired (its `inflight` counts this request). */
  backend: Backend;
  /** The algorithm that chose it. */
  algo: AlgoName;
  /** False when the pick was made in panic mode, over all backends. */
  healthy: boolean;
  /**
   * The tier the backend was picked from, only when locality applied to this pick (the pool's backends name places
   * and the gateway or the client has one); `any` in panic mode.
   */
  locality?: LocalityTier;
}

/** A pool's entry in the `/health` body (docs/http-api.md). `healthy` counts eligible backends. */
export interface PoolJSON {
  algo: AlgoName;
  healthy: number;
  total: number;
  backends: BackendJSON[];
}

/**
 * A named set of backends with a default algorithm. Filters the eligible backends (healthy, breaker admitting),
 * falls back to panic mode under the threshold, and keeps one balancer per algorithm (created on first use) so
 * stateful algorithms keep their state across picks and updates.
 */
export class Pool {
  /** The pool's name (the service it serves). */
  readonly name: string;
  private algoValue: AlgoName;
  private list: readonly Backend[];
  private readonly panicThreshold: number;
  private readonly clock: MonotonicClock;
  private readonly balancerOptions: BalancerOptions;
  private readonly backendOptions: BackendOptions;
  private readonly balancers = new Map<AlgoName, Balancer>();
  private readonly eligible: Backend[] = [];
  private readonly pickContext: { key: string | undefined; now: number } = { key: undefined, now: 0 };
  private readonly gatewayPlace: Locality;
  private readonly clientRegions: boolean;
  private readonly random: RandomSource;
  private plans: LocalityPlans | undefined;
  /** Per-pick scratch of the locality path: eligible backends by tier, their counts, the tiers' loads. */
  private readonly tierEligible: Backend[][] = LOCALITY_TIERS.map(() => []);
  private readonly tierCounts = new Int32Array(LOCALITY_TIERS.length);
  private readonly tierLoads = new Float64Array(LOCALITY_TIERS.length);
  private readonly keyHash = { hi: 0, lo: 0 };

  /**
   * @param name the pool's name, non-empty
   * @param backends its backends (may be empty); they should share the pool's clock
   * @throws Error naming a duplicate URL, a bad option or an unknown algorithm
   */
  constructor(name: string, backends: Backend[], opts: PoolOptions = {}) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new Error(`pool name must be a non-empty string, got ${JSON.stringify(name)}`);
    }
    this.name = name;
    try {
      this.panicThreshold = requireRatio('panicThreshold', opts.panicThreshold ?? 0.5);
      requireNonNegative('connPenalty', opts.connPenalty ?? 0);
      if (opts.ewmaDecayMs !== undefined) requirePositive('ewmaDecayMs', opts.ewmaDecayMs);
      if (opts.defaultRttMs !== undefined) requirePositive('defaultRttMs', opts.defaultRttMs);
      new Breaker(opts.breaker);
      checkLocality(opts.locality ?? {});
    } catch (e) {
      throw new Error(`pool ${name}: ${(e as Error).message}`, { cause: e });
    }
    this.algoValue = checkAlgo(name, opts.algo ?? 'ewma');
    this.clock = opts.clock ?? monotonicClock;
    this.random = opts.random ?? Math.random;
    this.gatewayPlace = Object.freeze({ zone: opts.locality?.zone, region: opts.locality?.region });
    this.clientRegions = opts.clientRegions === true;
    this.balancerOptions = {
      connPenalty: opts.connPenalty,
      costLatencySloMs: opts.costLatencySloMs,
      random: opts.random,
      clock: this.clock,
    };
    this.backendOptions = {
      defaultRttMs: opts.defaultRttMs,
      ewmaDecayMs: opts.ewmaDecayMs,
      clock: this.clock,
      breaker: opts.breaker,
    };
    const seen = new Set<string>();
    for (const b of backends) checkUnique(name, seen, b.url);
    this.list = Object.freeze([...backends]);
    this.plans = planLocality(this.list, this.gatewayPlace, this.clientRegions);
  }

  /** Default algorithm of the pool. Setting an unknown name throws. */
  get algo(): AlgoName {
    return this.algoValue;
  }

  set algo(value: AlgoName) {
    this.algoValue = checkAlgo(this.name, value);
  }

  /** The current backends (a frozen array, replaced, never mutated, by {@link update}). */
  get backends(): readonly Backend[] {
    return this.list;
  }

  /** True when picks are locality-aware: some backend names a zone or region the gateway or a client can prefer. */
  get localityAware(): boolean {
    return this.plans !== undefined;
  }

  /**
   * Chooses a backend for one request with `algo` (default: the pool's) and, unless `ctx.reserve` is false, acquires it.
   * Eligible = healthy and breaker admitting at `ctx.now` (default `clock.now()`). When the eligible share is below
   * the panic threshold, all backends are candidates and the result says `healthy: false`. The chosen backend's
   * breaker is asked {@link Breaker.allow}, which hands out the half-open trial when this pick is it. When the pool is
   * locality-aware the pick first chooses a tier (see {@link pickByTier}), from the client's region (`ctx.region`)
   * when the backends name it, else from the gateway's place. Returns undefined when the pool is empty, or when
   * nothing is eligible and panic mode is off. No array is allocated per call.
   */
  pick(ctx: PickContext, algo: AlgoName = this.algoValue): PickResult | undefined {
    const all = this.list;
    const n = all.length;
    if (n === 0) return undefined;
    const now = ctx.now ?? this.clock.now();
    const plans = this.plans;
    if (plans !== undefined) {
      const region = ctx.region;
      const plan = region === undefined ? plans.local : (plans.byRegion.get(region) ?? plans.local);
      if (plan !== undefined) return this.pickByTier(plan, ctx, algo, now);
    }
    const eligible = this.eligible;
    let count = 0;
    const exclude = ctx.exclude;
    for (let i = 0; i < n; i++) {
      const b = all[i];
      if (b.isEligible(now) && (exclude === undefined || !exclude.includes(b))) eligible[count++] = b;
    }
    if (eligible.length !== count) eligible.length = count;
    let candidates: readonly Backend[];
    let panic = false;
    if (count === n) {
      candidates = all;
    } else if (count < this.panicThreshold * n) {
      candidates = exclude === undefined ? all : this.withoutExcluded(exclude);
      panic = true;
    } else if (count === 0) {
      return undefined;
    } else {
      candidates = eligible;
    }
    const backend = this.choose(candidates, ctx, algo, now);
    if (backend === undefined) return undefined;
    return { backend, algo, healthy: !panic };
  }

  /**
   * {@link pick} over locality tiers: the eligible backends are sorted into their precomputed tiers in the same one
   * pass, the tiers' loads follow from their health ({@link spillLoads}), one draw chooses the tier (for `rendezvous`
   * the key's hash, so a key keeps its tier while the loads hold), and the balancer picks within it. Panic mode is
   * the pool's, as without locality: under the threshold every backend is a candidate and the tier is `any`.
   */
  private pickByTier(plan: TierPlan, ctx: PickContext, algo: AlgoName, now: number): PickResult | undefined {
    const all = this.list;
    const n = all.length;
    const ranks = plan.ranks;
    const tiers = this.tierEligible;
    const counts = this.tierCounts;
    counts.fill(0);
    const exclude = ctx.exclude;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const b = all[i];
      if (b.isEligible(now) && (exclude === undefined || !exclude.includes(b))) {
        const rank = ranks[i];
        tiers[rank][counts[rank]++] = b;
        count++;
      }
    }
    for (let t = 0; t < tiers.length; t++) if (tiers[t].length !== counts[t]) tiers[t].length = counts[t];
    let candidates: readonly Backend[];
    let tier = LOCALITY_TIERS.length - 1;
    let panic = false;
    if (count < this.panicThreshold * n) {
      candidates = exclude === undefined ? all : this.withoutExcluded(exclude);
      panic = true;
    } else if (count === 0) {
      return undefined;
    } else {
      tier = this.chooseTier(plan, ctx.key, algo);
      candidates = tiers[tier];
    }
    const backend = this.choose(candidates, ctx, algo, now);
    if (backend === undefined) return undefined;
    return { backend, algo, healthy: !panic, locality: LOCALITY_TIERS[tier] };
  }

  /** The tier of one pick from the tiers' loads; only called when some backend is eligible. */
  private chooseTier(plan: TierPlan, key: string | undefined, algo: AlgoName): number {
    const loads = this.tierLoads;
    spillLoads(this.tierCounts, plan.totals, loads);
    const last = loads.length - 1;
    // The common case, a healthy first tier with all the load, needs no draw.
    let first = 0;
    while (first < last && loads[first] === 0) first++;
    if (loads[first] >= 1) return first;
    const draw = algo === 'rendezvous' ? hashString64(key ?? '', TIER_SEED, this.keyHash).hi * UNIT_32 : this.random();
    let cumulative = 0;
    for (let t = first; t < last; t++) {
      cumulative += loads[t];
      if (draw < cumulative) return t;
    }
    // Rounding may leave the last share a hair short; an empty tier never has load, so step back to a full one.
    let t = last;
    while (t > 0 && this.tierCounts[t] === 0) t--;
    return t;
  }

  /** Number of eligible backends (healthy and breaker admitting) at `now` (ms, default `clock.now()`). */
  healthyCount(now: number = this.clock.now()): number {
    let count = 0;
    for (const b of this.list) if (b.isEligible(now)) count++;
    return count;
  }

  /**
   * Replaces the backend set. URLs that stay keep their Backend object (health, latency estimate, breaker, in-flight
   * count; weight, zone, region and cost are updated); new URLs get new backends with the pool's options; removed ones
   * are dropped. `weight` defaults to 1; an absent zone, region or cost becomes unknown. The locality tiers are
   * recomputed here. Sets the pool's algorithm when `algo` is given. All-or-nothing: on a duplicate URL, bad weight,
   * bad place or unknown algorithm it throws an Error naming it and changes nothing.
   */
  update(backends: ({ url: string; weight?: number } & BackendPlace)[], algo?: AlgoName): void {
    if (algo !== undefined) checkAlgo(this.name, algo);
    const current = new Map<string, Backend>();
    for (const b of this.list) current.set(b.url, b);
    const seen = new Set<string>();
    const next: Backend[] = [];
    const weights: number[] = [];
    const places: BackendPlace[] = [];
    for (const spec of backends) {
      checkUnique(this.name, seen, spec.url);
      const weight = spec.weight ?? 1;
      const kept = current.get(spec.url);
      places.push(checkPlace(spec.url, spec));
      next.push(kept ?? new Backend(spec.url, weight, this.backendOptions));
      weights.push(kept === undefined ? weight : checkWeight(spec.url, weight));
    }
    for (let i = 0; i < next.length; i++) {
      next[i].setWeight(weights[i]);
      next[i].setPlace(places[i]);
    }
    this.list = Object.freeze(next);
    this.plans = planLocality(this.list, this.gatewayPlace, this.clientRegions);
    if (algo !== undefined) this.algoValue = algo;
  }

  /**
   * The `/health` entry of this pool at `now` (ms, default `clock.now()`); a non-number argument (JSON.stringify
   * passes the property key) is ignored.
   */
  toJSON(now?: number): PoolJSON {
    const t = typeof now === 'number' ? now : this.clock.now();
    return {
      algo: this.algoValue,
      healthy: this.healthyCount(t),
      total: this.list.length,
      backends: this.list.map((b) => b.toJSON(t)),
    };
  }

  /** The balancer's pick among `candidates`, acquired (and its breaker asked) unless the pick only decides. */
  private choose(candidates: readonly Backend[], ctx: PickContext, algo: AlgoName, now: number): Backend | undefined {
    const pickContext = this.pickContext;
    pickContext.key = ctx.key;
    pickContext.now = now;
    const backend = this.balancerFor(algo).pick(candidates, pickContext);
    if (backend !== undefined && ctx.reserve !== false) {
      backend.acquire();
      backend.breaker.allow(now);
    }
    return backend;
  }

  /** All backends but the excluded ones (panic mode during a retry); the scratch array is reused. */
  private withoutExcluded(exclude: readonly Backend[]): readonly Backend[] {
    const rest = this.eligible;
    rest.length = 0;
    for (const b of this.list) if (!exclude.includes(b)) rest.push(b);
    return rest.length === 0 ? this.list : rest;
  }

  private balancerFor(algo: AlgoName): Balancer {
    let balancer = this.balancers.get(algo);
    if (balancer === undefined) {
      balancer = createBalancer(algo, this.balancerOptions);
      this.balancers.set(algo, balancer);
    }
    return balancer;
  }
}

function checkAlgo(pool: string, algo: string): AlgoName {
  if (!isAlgoName(algo)) throw new Error(`pool ${pool}: unknown balancing algorithm ${JSON.stringify(algo)}`);
  return algo;
}

function checkLocality(place: Locality): void {
  for (const field of ['zone', 'region'] as const) {
    const value = place[field];
    if (value !== undefined && !isLocalityToken(value)) {
      throw new Error(`locality ${field} must be a lowercase label (a-z, 0-9, -; 1-63), got ${JSON.stringify(value)}`);
    }
  }
}

function checkUnique(pool: string, seen: Set<string>, url: string): void {
  if (seen.has(url)) throw new Error(`pool ${pool}: duplicate backend url ${url}`);
  seen.add(url);
}
