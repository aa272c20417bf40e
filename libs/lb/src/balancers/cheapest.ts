import type { Backend } from '../backend';
import type { MonotonicClock, RandomSource } from '../clock';
import type { Balancer, PickContext } from './balancer';
import { CostBalancer } from './cost';
import { EwmaBalancer } from './ewma';

/** Default latency objective of `cost`, ms (setting `ORCH_COST_LATENCY_SLO`). */
export const DEFAULT_COST_LATENCY_SLO_MS = 50;

/**
 * Cost-aware balancing (`cost`): among the candidates whose expected latency meets the objective — the peak-EWMA
 * estimate inflated by queued work, `ewmaMs × (1 + connPenalty × inflight)` — the one with the lowest price per
 * request (`Backend.cost`; a backend without a price counts as the most expensive), ties broken by the `ewma` cost
 * and then at random. When no candidate meets the objective it picks as `ewma` does, so a slow pool is served as fast
 * as it can be. O(n) per pick, no allocation.
 */
export class CheapestBalancer extends CostBalancer implements Balancer {
  /** Always `'cost'`. */
  readonly algo = 'cost' as const;
  private readonly fallback: EwmaBalancer;

  /**
   * @param latencySloMs the latency objective, ms (> 0)
   * @param connPenalty in-flight penalty, as `ewma`'s
   */
  constructor(
    private readonly latencySloMs: number,
    connPenalty: number,
    random: RandomSource,
    clock: MonotonicClock,
  ) {
    super(connPenalty, random, clock);
    this.fallback = new EwmaBalancer(connPenalty, random, clock);
  }

  /** See {@link Balancer.pick}. */
  pick(candidates: readonly Backend[], ctx: PickContext): Backend | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    const now = ctx.now ?? this.clock.now();
    let best: Backend | undefined;
    let bestPrice = Infinity;
    let bestCost = Infinity;
    let ties = 0;
    for (let i = 0; i < n; i++) {
      const b = candidates[i];
      // The expected latency is the load cost before the weight shares it out.
      const cost = this.cost(b, now);
      if (cost * b.weight > this.latencySloMs) continue;
      const price = b.cost ?? Infinity;
      if (best === undefined || price < bestPrice || (price === bestPrice && cost < bestCost)) {
        best = b;
        bestPrice = price;
        bestCost = cost;
        ties = 1;
      } else if (price === bestPrice && cost === bestCost && this.random() * ++ties < 1) {
        best = b;
      }
    }
    return best ?? this.fallback.pick(candidates, ctx);
  }
}
