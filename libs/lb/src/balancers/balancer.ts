import type { AlgoName } from '../algo';
import type { Backend } from '../backend';
import type { MonotonicClock, RandomSource } from '../clock';

/** Per-request input of a pick. */
export interface PickContext {
  /** Affinity key for `rendezvous` (the request's hashKey or client IP); undefined counts as `''`. */
  key?: string;
  /** Current time in ms on the balancer's clock; default `clock.now()`. */
  now?: number;
  /**
   * Whether a request will be sent through the gateway to the pick (default true): then {@link Pool.pick} acquires
   * the backend and takes its breaker's half-open trial. False for a decision only (`POST /route`), whose outcome the
   * gateway never sees: nothing is acquired and no trial is spent.
   */
  reserve?: boolean;
  /** Backends not to pick this time (a retry after one of them failed); treated as ineligible. */
  exclude?: readonly Backend[];
  /**
   * The client's region, when known (a trusted edge header or the client-region table): preferred over the gateway's
   * place by a locality-aware {@link Pool}, if its backends name that region. Ignored by the balancers.
   */
  region?: string;
}

/** Options shared by the balancers (and by {@link Pool}, which also uses the backend-related ones). */
export interface BalancerOptions {
  /**
   * In-flight penalty of the `ewma`/`p2c` cost (setting `ORCH_P2C_CONN_PENALTY`). Finite ≥ 0, default 0.2.
   * cost = ewmaMs × (1 + connPenalty × inflight) / weight.
   */
  connPenalty?: number;
  /**
   * Time constant τ of the peak-EWMA decay in ms, for backends the pool creates. Finite > 0, default 10 000 (Finagle's
   * and Linkerd's default): a faster sample after τ of silence carries 63 % of the weight, and an idle estimate falls
   * to 37 % per τ. The setting `ORCH_EWMA_DECAY` may be given as this decay time.
   */
  ewmaDecayMs?: number;
  /**
   * Latency objective of `cost`, ms (setting `ORCH_COST_LATENCY_SLO`). Finite > 0, default 50: `cost` picks the
   * cheapest backend whose expected latency meets it.
   */
  costLatencySloMs?: number;
  /** Latency assumed for a new backend the pool creates, in ms. Finite > 0, default 50. */
  defaultRttMs?: number;
  /** Uniform [0, 1) source for tie-breaks and p2c sampling, default `Math.random`. */
  random?: RandomSource;
  /** Time source, default {@link monotonicClock}. */
  clock?: MonotonicClock;
}

/**
 * One balancing algorithm: picks a backend among candidates the caller has already filtered (health, breaker).
 * Instances may keep state (round robin's counters) and are meant to serve one pool. `pick` does not acquire the
 * backend; it returns undefined for an empty list and the only candidate directly.
 */
export interface Balancer {
  /** The algorithm this instance implements. */
  readonly algo: AlgoName;
  /** Chooses one of `candidates`; never allocates per call. */
  pick(candidates: readonly Backend[], ctx: PickContext): Backend | undefined;
}
