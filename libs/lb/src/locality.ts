import type { Backend } from './backend';

/** A place: a zone (e.g. `eu-1a`) inside a region (e.g. `eu-1`). Either may be unknown. */
export interface Locality {
  readonly zone?: string;
  readonly region?: string;
}

/** The tier a pick was served from, seen from its origin: the origin's zone, its region, or anywhere. */
export type LocalityTier = 'zone' | 'region' | 'any';

/** Every {@link LocalityTier}, most local first; a tier's index is its rank. */
export const LOCALITY_TIERS: readonly LocalityTier[] = Object.freeze(['zone', 'region', 'any'] as const);

/**
 * How much healthy capacity a tier is assumed to hold beyond its need (Envoy's default overprovisioning factor): a
 * tier keeps all of its traffic while `healthy / total × 1.4 ≥ 1`, i.e. until fewer than ~71.4 % of it is healthy.
 */
export const OVERPROVISIONING_FACTOR = 1.4;

/** Zone and region names: a lowercase DNS label, 1–63 of `a-z`, `0-9`, `-`, not starting or ending with `-`. */
export const LOCALITY_TOKEN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** True when `s` is a valid zone or region name ({@link LOCALITY_TOKEN}). */
export function isLocalityToken(s: unknown): s is string {
  return typeof s === 'string' && LOCALITY_TOKEN.test(s);
}

/**
 * The share of traffic each tier gets, written to `out` (most local first), from each tier's eligible and total
 * backend counts. A tier's health score is `min(1, 1.4 × eligible / total)` (0 for an empty tier); tiers take
 * traffic in order, each up to its score, the rest spilling to the next. When the scores sum to less than 1 the
 * loads are the scores normalised, so every healthy tier takes a share in proportion. Returns the sum of the
 * scores: 0 when nothing is eligible (then every load is 0). Allocates nothing.
 */
export function spillLoads(eligible: ArrayLike<number>, total: ArrayLike<number>, out: Float64Array): number {
  const tiers = out.length;
  let sum = 0;
  for (let t = 0; t < tiers; t++) {
    const score = total[t] === 0 ? 0 : Math.min(1, (OVERPROVISIONING_FACTOR * eligible[t]) / total[t]);
    out[t] = score;
    sum += score;
  }
  if (sum === 0) return 0;
  if (sum < 1) {
    for (let t = 0; t < tiers; t++) out[t] /= sum;
    return sum;
  }
  let remaining = 1;
  for (let t = 0; t < tiers; t++) {
    const load = Math.min(remaining, out[t]);
    out[t] = load;
    remaining -= load;
  }
  return sum;
}

/** The tier rank (index into {@link LOCALITY_TIERS}) of a backend seen from `origin`: same zone, same region, else any. */
export function tierOf(backend: Locality, origin: Locality): number {
  if (origin.zone !== undefined && backend.zone === origin.zone) return 0;
  if (origin.region !== undefined && backend.region === origin.region) return 1;
  return 2;
}

/**
 * The tiers of a pool's backends seen from one origin, computed when the backends change (never per pick):
 * `ranks[i]` is the tier of backend `i`, `totals[t]` how many backends tier `t` holds.
 */
export interface TierPlan {
  readonly ranks: Uint8Array;
  readonly totals: Int32Array;
}

/** The {@link TierPlan} of `backends` seen from `origin`. */
export function planTiers(backends: readonly Backend[], origin: Locality): TierPlan {
  const ranks = new Uint8Array(backends.length);
  const totals = new Int32Array(LOCALITY_TIERS.length);
  for (let i = 0; i < backends.length; i++) {
    const rank = tierOf(backends[i], origin);
    ranks[i] = rank;
    totals[rank]++;
  }
  return { ranks, totals };
}

/**
 * The plans of a pool: one for the gateway's own place, one per region its backends name (for clients known to be in
 * that region; with the gateway's zone as the first tier when the gateway is in that region). Undefined when no
 * backend names a zone or region, or when neither the gateway's place nor client regions could use one: the pool
 * then balances exactly as without locality.
 */
export interface LocalityPlans {
  /** The plan seen from the gateway, undefined when the gateway's place is unknown. */
  readonly local: TierPlan | undefined;
  /** Plans by client region, for the regions the backends name. */
  readonly byRegion: ReadonlyMap<string, TierPlan>;
}

/** Builds {@link LocalityPlans} for `backends`, or undefined when locality cannot change any pick. */
export function planLocality(
  backends: readonly Backend[],
  gateway: Locality,
  clientRegions: boolean,
): LocalityPlans | undefined {
  const regions = new Set<string>();
  let located = false;
  for (const b of backends) {
    if (b.zone !== undefined || b.region !== undefined) located = true;
    if (b.region !== undefined) regions.add(b.region);
  }
  const gatewayKnown = gateway.zone !== undefined || gateway.region !== undefined;
  if (!located || (!gatewayKnown && !(clientRegions && regions.size > 0))) return undefined;
  const byRegion = new Map<string, TierPlan>();
  if (clientRegions) {
    for (const region of regions) {
      const zone = gateway.region === region ? gateway.zone : undefined;
      byRegion.set(region, planTiers(backends, { zone, region }));
    }
  }
  return { local: gatewayKnown ? planTiers(backends, gateway) : undefined, byRegion };
}
