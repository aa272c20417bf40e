import type { Backend } from '../backend';
import type { MonotonicClock, RandomSource } from '../clock';

/**
 * Default in-flight penalty of {@link loadCost} (setting `ORCH_P2C_CONN_PENALTY`). With the multiplicative cost a
 * backend 10× faster than another keeps winning until it has (10 − 1) / 0.2 = 45 requests in flight, so the penalty
 * only spreads load off a fast backend once it is really queueing; 5 tipped it over a 10× slower backend at 2 in flight
 * (and at 1 once the proxy's own time is in the estimate). Chosen by the sweep of `bench/lb.mjs`
 * (`BENCH_LB_PENALTIES`), see docs/load-balancing.md.
 */
export const DEFAULT_CONN_PENALTY = 0.2;

/**
 * Expected cost of sending one more request to `b`, as used by `ewma` and `p2c`:
 * `ewmaMs(now) × (1 + connPenalty × inflight) / weight` — latency estimate, inflated by queued work, shared by weight.
 */
export function loadCost(b: Backend, now: number, connPenalty: number): number {
  return (b.ewmaMs(now) * (1 + connPenalty * b.inflight)) / b.weight;
}

/** What the cost-comparing balancers (`ewma`, `p2c`) are built from; each compares {@link loadCost}s its own way. */
export abstract class CostBalancer {
  /**
   * @param connPenalty in-flight penalty of the cost, ≥ 0
   * @param random uniform [0, 1) source for sampling and tie-breaks
   * @param clock time source when the pick context gives no `now`
   */
  constructor(
    protected readonly connPenalty: number,
    protected readonly random: RandomSource,
    protected readonly clock: MonotonicClock,
  ) {}

  /** {@link loadCost} of `b` with this balancer's penalty. */
  protected cost(b: Backend, now: number): number {
    return loadCost(b, now, this.connPenalty);
  }
}
