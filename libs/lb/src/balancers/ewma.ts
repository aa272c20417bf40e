import type { Backend } from '../backend';
import type { Clock, RandomSource } from '../clock';
import type { Balancer, PickContext } from './balancer';
import { loadCost } from './cost';

/**
 * Peak EWMA over all candidates: picks the lowest {@link loadCost}
 * (`ewmaMs × (1 + connPenalty × inflight) / weight`), ties broken uniformly at random in one pass (reservoir).
 * O(n) per pick; prefer `p2c` for large pools.
 */
export class EwmaBalancer implements Balancer {
  /** Always `'ewma'`. */
  readonly algo = 'ewma' as const;

  /**
   * @param connPenalty in-flight penalty of the cost, ≥ 0
   * @param random uniform [0, 1) source for tie-breaks
   * @param clock time source when the context gives no `now`
   */
  constructor(
    private readonly connPenalty: number,
    private readonly random: RandomSource,
    private readonly clock: Clock,
  ) {}

  /** See {@link Balancer.pick}. */
  pick(candidates: readonly Backend[], ctx: PickContext): Backend | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    const now = ctx.now ?? this.clock.now();
    let best = candidates[0];
    let bestCost = loadCost(best, now, this.connPenalty);
    let ties = 1;
    for (let i = 1; i < n; i++) {
      const b = candidates[i];
      const cost = loadCost(b, now, this.connPenalty);
      if (cost < bestCost) {
        best = b;
        bestCost = cost;
        ties = 1;
      } else if (cost === bestCost && this.random() * ++ties < 1) {
        best = b;
      }
    }
    return best;
  }
}
